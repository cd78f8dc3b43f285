/**
 * Envoy's `X-Forwarded-Client-Cert`, the default source: Azure Container Apps, Istio, Envoy
 * Gateway.
 * @module
 */
import { decodePercent, headerNameOption } from '../bytes.ts'
import { CertgateError, malformed } from '../errors.ts'
import { readCertificateFields } from '../x509/fields.ts'
import { decodeCertificates, type DecodeCertificatesOptions, decodeEscapedCertificates } from '../x509/pem.ts'
import { checkElementSans, inconsistent } from '../xfcc/consistency.ts'
import { parseXfccHeader, type XfccElement, type XfccSanKeys } from '../xfcc/parse.ts'
import {
  type CertificateSource,
  type ForwardedCertificate,
  normaliseSha256,
  singleHeaderSource,
  type SourceLimits,
} from './source.ts'

/** Which XFCC element carries the certificate to check. */
export type XfccElementChoice = 'rightmost' | 'leftmost' | { fromRight: number }

/** Options for {@link xfccSource}. */
export interface XfccSourceOptions {
  /** Default `x-forwarded-client-cert`. */
  header?: string
  /**
   * Default `'rightmost'`: the element the nearest proxy appended. Anything to its left may have
   * been sent by the client itself.
   */
  element?: XfccElementChoice
  /**
   * Refuse a header with more elements (ERR_HEADER_INCONSISTENT). Default: any number. Set 1
   * when the proxy replaces the header with its own element (Envoy's `SANITIZE_SET`, ACA): a
   * second element can then only be one a client smuggled in.
   */
  maxElements?: number
}

/**
 * Envoy's `X-Forwarded-Client-Cert`. Reads one element (the rightmost by default); its `Cert`,
 * or else the first certificate of its `Chain`, is the leaf; `chain` is the decoded `Chain`,
 * which Envoy sends leaf first. An element with a `Hash` but no certificate throws
 * ERR_CERT_MISSING from `decode()`: there was a certificate nobody here can check. The `Hash`,
 * when present, is handed on for the verifier to compare. Every element's URI and DNS values
 * must be its certificate's SANs, or the header is refused with ERR_HEADER_INCONSISTENT: a
 * proxy copies SANs in raw, so a client's SAN can otherwise write elements of its own.
 */
export function xfccSource(options: XfccSourceOptions = {}): CertificateSource {
  const header = headerNameOption('header', options.header ?? 'x-forwarded-client-cert')
  const { element, maxElements = Infinity } = options
  if (element !== undefined) assertElementChoice(element)
  assertMaxElements(maxElements, element)
  return singleHeaderSource('xfcc', header, (value, limits) => decodeXfcc(value, element, maxElements, limits))
}

function decodeXfcc(
  value: string,
  choice: XfccElementChoice | undefined,
  maxElements: number,
  limits: SourceLimits
): ForwardedCertificate {
  const { elements, sanKeys } = parseXfccHeader(value, { keepEscapes: true })
  if (elements.length > maxElements) {
    throw inconsistent('The XFCC header has more elements than the proxy writes.')
  }
  const element = chooseXfccElement(elements, choice)
  const max = { maxCertificates: limits.maxChainLength }
  let leafBlocks: Uint8Array[] | undefined
  // Every element, not only the one read: a SAN that cuts its own element short can place the
  // forged one anywhere to its right.
  for (let i = 0; i < elements.length; i++) {
    const blocks = checkElement(elements[i]!, sanKeys[i]!, max)
    if (elements[i] === element) leafBlocks = blocks
  }
  if (leafBlocks === undefined) {
    // Envoy forwards a Hash alone unless told to forward the Cert.
    throw new CertgateError(
      'ERR_CERT_MISSING',
      'The forwarded client certificate header carries no certificate ' +
        '(configure the proxy to forward Cert).'
    )
  }
  let chain = leafBlocks
  if (element.cert !== undefined) {
    chain = element.chain === undefined ? [] : decodeEscaped(element.chain, max)
  }
  const result: ForwardedCertificate = { leaf: leafBlocks[0]!, chain }
  if (element.hash !== undefined) result.hash = normaliseSha256(element.hash, 'XFCC Hash', false)
  return result
}

/**
 * Checks one element against the certificate it carries (see checkElementSans); returns the
 * decoded `Cert` (or `Chain`, without a Cert), undefined when it carries neither.
 */
function checkElement(
  element: XfccElement,
  keys: XfccSanKeys,
  max: { maxCertificates: number }
): Uint8Array[] | undefined {
  const leafText = element.cert ?? element.chain
  const blocks = leafText === undefined ? undefined : decodeEscaped(leafText, max)
  // The ACA form carries no SAN keys: nothing to compare, and no parse to pay for.
  const sans = blocks !== undefined && (keys.uri || keys.dns) ? readCertificateFields(blocks[0]!) : null
  if (blocks === undefined || sans !== null) checkElementSans(element, keys, sans)
  return blocks
}

/**
 * A `Cert` or `Chain` value still URL-encoded (its escapes already checked by the parser) to DER:
 * straight from the escaped text when it has the usual shape, else decoded first and read as
 * decodeCertificates reads any certificate text — the same blocks or the same refusal either way.
 */
function decodeEscaped(escaped: string, max: DecodeCertificatesOptions): Uint8Array[] {
  return decodeEscapedCertificates(escaped, max) ?? decodeCertificates(decodePercent(escaped)!, max)
}

/**
 * The element of a parsed XFCC header that carries the certificate to check, as
 * {@link xfccSource} picks it: by default the rightmost, the one the nearest proxy appended.
 * Throws ERR_HEADER_MALFORMED when the header has fewer elements than `choice` counts.
 */
export function chooseXfccElement(
  elements: readonly XfccElement[],
  choice: XfccElementChoice = 'rightmost'
): XfccElement {
  const index =
    choice === 'rightmost'
      ? elements.length - 1
      : choice === 'leftmost'
        ? 0
        : elements.length - 1 - choice.fromRight
  const element = elements[index]
  if (element === undefined) {
    throw malformed('ERR_HEADER_MALFORMED', 'The XFCC header has fewer elements than configured.')
  }
  return element
}

function assertMaxElements(maxElements: number, element: XfccElementChoice | undefined): void {
  if (maxElements !== Infinity && (!Number.isInteger(maxElements) || maxElements < 1)) {
    throw new TypeError('maxElements must be a positive integer.')
  }
  if (typeof element === 'object' && element.fromRight >= maxElements) {
    throw new TypeError('element.fromRight must be less than maxElements.')
  }
}

function assertElementChoice(element: unknown): asserts element is XfccElementChoice {
  if (typeof element === 'object') {
    const fromRight = (element as { fromRight?: unknown } | null)?.fromRight
    if (typeof fromRight !== 'number' || !Number.isInteger(fromRight) || fromRight < 0) {
      throw new TypeError('element.fromRight must be a non-negative integer.')
    }
    return
  }
  if (element !== 'rightmost' && element !== 'leftmost') {
    throw new TypeError("element must be 'rightmost', 'leftmost' or { fromRight: n }.")
  }
}
