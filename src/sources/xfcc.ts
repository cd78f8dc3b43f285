/**
 * Envoy's `X-Forwarded-Client-Cert`, the default source: Azure Container Apps, Istio, Envoy
 * Gateway.
 * @module
 */
import { headerNameOption } from '../bytes.ts'
import { CertgateError, malformed } from '../errors.ts'
import { decodeCertificates } from '../x509/pem.ts'
import { parseXfcc, type XfccElement } from '../xfcc/parse.ts'
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
}

/**
 * Envoy's `X-Forwarded-Client-Cert`. Reads one element (the rightmost by default); its `Cert`,
 * or else the first certificate of its `Chain`, is the leaf; `chain` is the decoded `Chain`,
 * which Envoy sends leaf first. An element with a `Hash` but no certificate throws
 * ERR_CERT_MISSING from `decode()`: there was a certificate nobody here can check. The `Hash`,
 * when present, is handed on for the verifier to compare.
 */
export function xfccSource(options: XfccSourceOptions = {}): CertificateSource {
  const header = headerNameOption('header', options.header ?? 'x-forwarded-client-cert')
  const { element } = options
  if (element !== undefined) assertElementChoice(element)
  return singleHeaderSource('xfcc', header, (value, limits) => decodeXfcc(value, element, limits))
}

function decodeXfcc(
  value: string,
  choice: XfccElementChoice | undefined,
  limits: SourceLimits
): ForwardedCertificate {
  const element = chooseXfccElement(parseXfcc(value), choice)
  const leafText = element.cert ?? element.chain
  if (leafText === undefined) {
    // Envoy forwards a Hash alone unless told to forward the Cert.
    throw new CertgateError(
      'ERR_CERT_MISSING',
      'The forwarded client certificate header carries no certificate ' +
        '(configure the proxy to forward Cert).'
    )
  }
  const max = { maxCertificates: limits.maxChainLength }
  const leafBlocks = decodeCertificates(leafText, max)
  let chain = leafBlocks
  if (element.cert !== undefined) {
    chain = element.chain === undefined ? [] : decodeCertificates(element.chain, max)
  }
  const result: ForwardedCertificate = { leaf: leafBlocks[0]!, chain }
  if (element.hash !== undefined) result.hash = normaliseSha256(element.hash, 'XFCC Hash', false)
  return result
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
