/**
 * Where the client certificate comes from: one {@link CertificateSource} per way a
 * TLS-terminating proxy forwards it. Envoy's `X-Forwarded-Client-Cert` (the default, as Azure
 * Container Apps sends it), Traefik, nginx and ingress-nginx, AWS ALB, Azure App Service, Azure
 * Application Gateway, Cloudflare, RFC 9440, or your own function.
 *
 * A source does two things, split so the verifier can memoise the costly half: `read()` is
 * header lookups only (sizes, the proxy's own verdict, "no certificate"), and returns a `key`,
 * the exact text `decode()` depends on; `decode()` parses and base64-decodes. Header names and
 * encodings follow each proxy's source or documentation (`shared/xfcc-facts.md` §3).
 * @module
 */
import { toHex } from '../bytes.ts'
import { CertgateError, malformed } from '../errors.ts'
import { decodeBase64, decodeCertificates, decodePercent } from '../x509/pem.ts'
import { parseXfcc, type XfccElement } from '../xfcc/parse.ts'

/** What a proxy forwarded about the client certificate. */
export interface ForwardedCertificate {
  /** The client's certificate, DER. */
  leaf: Uint8Array
  /** DER, the extra certificates forwarded, in the order forwarded; may repeat the leaf. */
  chain: Uint8Array[]
  /** A forwarded SHA-256 of the leaf, uppercase hex, for the verifier to check against the DER. */
  hash?: string
}

/** Per-verifier bounds every source enforces on what it reads. */
export interface SourceLimits {
  /** A longer header value is refused with ERR_HEADER_TOO_LARGE. */
  maxHeaderBytes: number
  /** A forwarded chain with more certificates is refused with ERR_CHAIN_TOO_LONG. */
  maxChainLength: number
}

/**
 * One read of a request: `key` is the exact text that determines `decode()`'s result (used as a
 * memo key), null when no certificate was presented.
 */
export interface SourceRead {
  key: string
  decode(): ForwardedCertificate
}

/** A way the client certificate reaches the app. */
export interface CertificateSource {
  readonly name: string
  /**
   * Sync and cheap (header lookups only). Returns null for "no certificate presented"; throws
   * CertgateError for a proxy verdict of failure or an oversized header.
   */
  read(headers: Headers, limits: SourceLimits): SourceRead | null
}

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

/** Options for sources whose headers you name in the proxy's configuration. */
export interface VerdictHeaderOption {
  /**
   * The header carrying the proxy's verification result, `SUCCESS`, `NONE` or
   * `FAILED:<reason>` (nginx's `$ssl_client_verify`, App Gateway's
   * `client_certificate_verification`, Cloudflare's `certVerified`).
   */
  verifyHeader?: string
}

/** Options for {@link nginxSource}. */
export interface NginxSourceOptions {
  /** Default `ssl-client-cert`, as ingress-nginx sets it. */
  certHeader?: string
  /**
   * Default `ssl-client-verify`, as ingress-nginx sets it. `false` when your nginx sends no
   * verdict (it must then refuse unverified clients itself, `ssl_verify_client on`).
   */
  verifyHeader?: string | false
}

/** Options for {@link albSource}. */
export interface AlbSourceOptions {
  /**
   * The listener's mutual TLS mode. `'verify'` (default): ALB verified the client against its
   * trust store and sends the leaf in `X-Amzn-Mtls-Clientcert-Leaf`. `'passthrough'`: ALB
   * verified nothing and sends the whole chain in `X-Amzn-Mtls-Clientcert`; configure chain
   * validation (`trust`), or anyone with any certificate gets in.
   */
  mode?: 'verify' | 'passthrough'
}

/** Options for {@link appGatewaySource}. */
export interface AppGatewaySourceOptions {
  /** The header a rewrite rule fills with `{var_client_certificate}`. */
  certHeader: string
  /** The header a rewrite rule fills with `{var_client_certificate_verification}`. */
  verifyHeader?: string
}

/** What a {@link customSource} function returns for a request with a certificate. */
export interface CustomSourceResult {
  /** The exact text the rest depends on, e.g. the header value(s) it read, joined by `\n`. */
  key: string
  /** DER, or text {@link decodeCertificates} reads (PEM, bare base64 DER); no URL-decoding. */
  leaf: string | Uint8Array
  /** Each entry DER, or text holding one or more certificates. */
  chain?: Array<string | Uint8Array>
  /** A forwarded SHA-256 of the leaf, hex (any case, colons allowed). */
  hash?: string
}

/** The names {@link sourceByName} knows, e.g. for a `CLIENT_CERT_SOURCE` setting. */
export const SOURCE_NAMES = [
  'xfcc',
  'traefik',
  'nginx',
  'alb',
  'alb-passthrough',
  'app-service',
  'cloudflare',
  'rfc9440',
] as const

/** One of {@link SOURCE_NAMES}. */
export type SourceName = (typeof SOURCE_NAMES)[number]

// ---------------------------------------------------------------------------------------------
// Shared pieces

function tooLarge(): CertgateError {
  return new CertgateError(
    'ERR_HEADER_TOO_LARGE',
    'The forwarded client certificate header is too large.'
  )
}

function chainTooLong(limits: SourceLimits): CertgateError {
  return new CertgateError(
    'ERR_CHAIN_TOO_LONG',
    `The forwarded chain holds more than ${limits.maxChainLength} certificates.`
  )
}

/**
 * A header value, size-checked; null when absent or blank (a proxy with nothing to say may
 * still send the header empty). Header values are byte strings, so length is bytes.
 */
function readHeader(headers: Headers, name: string, limits: SourceLimits): string | null {
  const value = headers.get(name)
  if (value === null) return null
  if (value.length > limits.maxHeaderBytes) throw tooLarge()
  // Headers already strips HTTP whitespace (space, tab); JS trim() would also eat NBSP (0xA0).
  return value === '' ? null : value
}

/**
 * Validates a configured header name: an HTTP token without `_`. Underscore spellings are never
 * read: servers that fold `-` and `_` together (CGI, nginx with underscores_in_headers) let a
 * client's `X_Foo` stand in for the proxy's `X-Foo`, and the proxy only strips the spelling it
 * writes.
 */
function headerName(option: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[!#$%&'*+.^`|~0-9A-Za-z-]+$/.test(value)) {
    throw new TypeError(`certgate: ${option} must be an HTTP header name without underscores`)
  }
  return value.toLowerCase()
}

/** Exactly one certificate: proxies that forward the leaf alone never send more. */
function decodeLeafOnly(text: string, limits: SourceLimits): Uint8Array {
  const blocks = decodeCertificates(text, { maxCertificates: limits.maxChainLength })
  if (blocks.length !== 1) {
    throw new CertgateError(
      'ERR_CERT_MALFORMED',
      'The forwarded client certificate header carries more than one certificate.'
    )
  }
  return blocks[0]!
}

/** `ab:CD…` → `ABCD…`; with `base64`, also the 44-character base64 of 32 bytes. */
function normaliseSha256(text: string, what: string, base64: boolean): string {
  const hex = text.trim().replace(/:/g, '').toUpperCase()
  if (/^[0-9A-F]{64}$/.test(hex)) return hex
  if (base64 && /^[A-Za-z0-9+/]{43}=?$/.test(text.trim())) {
    const bytes = decodeBase64(text.trim())
    if (bytes.length === 32) return toHex(bytes)
  }
  throw malformed('ERR_HEADER_MALFORMED', `The ${what} is not a SHA-256 hex digest.`)
}

type Verdict = 'success' | 'none' | null

/**
 * The proxy's verification result in the nginx grammar (`SUCCESS`, `NONE`, `FAILED:<reason>`),
 * null when the header is absent. FAILED throws; anything else unrecognised is refused rather
 * than guessed at (two copies joined by `Headers.get` land here too).
 */
function readVerdict(headers: Headers, name: string, limits: SourceLimits): Verdict {
  const value = readHeader(headers, name, limits)
  if (value === null) return null
  const verdict = value.trim()
  if (verdict === 'SUCCESS') return 'success'
  if (verdict === 'NONE') return 'none'
  if (verdict === 'FAILED' || verdict.startsWith('FAILED:')) {
    // The reason (e.g. "certificate has expired") helps the operator, so it goes in `cause`,
    // which is logged but never sent to the client.
    throw new CertgateError(
      'ERR_PROXY_VERIFY_FAILED',
      'The proxy reports that the client certificate failed verification.',
      { cause: new Error(`proxy verdict: ${verdict.slice(0, 200)}`) }
    )
  }
  throw malformed('ERR_HEADER_MALFORMED', 'The proxy verification result is not SUCCESS, NONE or FAILED:<reason>.')
}

/**
 * Applies a verdict header around a certificate read: FAILED throws, NONE means no certificate
 * (whatever else arrived), SUCCESS without the certificate is a certificate nobody can check,
 * and a certificate without the verdict the proxy always sends is refused.
 */
function withVerdict(
  headers: Headers,
  limits: SourceLimits,
  verifyHeader: string | null,
  readCertificate: () => SourceRead | null
): SourceRead | null {
  const verdict = verifyHeader === null ? null : readVerdict(headers, verifyHeader, limits)
  if (verdict === 'none') return null
  const read = readCertificate()
  if (read === null) {
    if (verdict === 'success') {
      // As with an XFCC Hash without Cert: there was a certificate, so even `accept` refuses.
      throw new CertgateError(
        'ERR_CERT_MISSING',
        'The proxy verified a client certificate but did not forward it (configure it to).'
      )
    }
    return null
  }
  if (verifyHeader !== null && verdict === null) {
    throw malformed('ERR_HEADER_MALFORMED', 'The proxy sent a client certificate without its verification result.')
  }
  return read
}

function pickElement(elements: XfccElement[], choice: XfccElementChoice): XfccElement {
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
      throw new TypeError('certgate: element.fromRight must be a non-negative integer')
    }
    return
  }
  if (element !== 'rightmost' && element !== 'leftmost') {
    throw new TypeError("certgate: element must be 'rightmost', 'leftmost' or { fromRight: n }")
  }
}

/** A source reading one header, whose whole value is the memo key. */
function singleHeaderSource(
  name: string,
  header: string,
  decode: (value: string, limits: SourceLimits) => ForwardedCertificate
): CertificateSource {
  return {
    name,
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      const value = readHeader(headers, header, limits)
      if (value === null) return null
      return { key: value, decode: (): ForwardedCertificate => decode(value, limits) }
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Envoy XFCC

/**
 * Envoy's `X-Forwarded-Client-Cert` (Azure Container Apps, Istio, Envoy Gateway). Reads one
 * element (the rightmost by default); its `Cert`, or else the first certificate of its `Chain`,
 * is the leaf; `chain` is the decoded `Chain`, which Envoy sends leaf first. An element with a
 * `Hash` but no certificate throws ERR_CERT_MISSING from `decode()`: there was a certificate
 * nobody here can check. The `Hash`, when present, is handed on for the verifier to compare.
 */
export function xfccSource(options: XfccSourceOptions = {}): CertificateSource {
  const header = headerName('header', options.header ?? 'x-forwarded-client-cert')
  const element = options.element ?? 'rightmost'
  assertElementChoice(element)
  return singleHeaderSource('xfcc', header, (value, limits) => decodeXfcc(value, element, limits))
}

function decodeXfcc(
  value: string,
  choice: XfccElementChoice,
  limits: SourceLimits
): ForwardedCertificate {
  const element = pickElement(parseXfcc(value), choice)
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

// ---------------------------------------------------------------------------------------------
// Traefik

const BASE64_ONLY = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * Traefik's PassTLSClientCert middleware (`pem: true`): `X-Forwarded-Tls-Client-Cert` holds
 * every peer certificate, leaf first, each as PEM without its BEGIN/END lines and newlines
 * (that is, base64 DER), joined by `,`. Traefik 2.8 to 2.9.1 also URL-escaped each certificate
 * (traefik#9379, PR #9412); both forms are read. `-Info` is ignored: a summary of fields is no
 * identity. Traefik itself never removes a client-sent copy of the header unless the entry
 * point's `forwardedHeaders` does (traefik#5061), so pair this with trusted proxies.
 */
export function traefikSource(): CertificateSource {
  return singleHeaderSource('traefik', 'x-forwarded-tls-client-cert', decodeTraefik)
}

function decodeTraefik(value: string, limits: SourceLimits): ForwardedCertificate {
  const text = decodePercent(value, 'the X-Forwarded-Tls-Client-Cert header')
  const pieces = text.split(',')
  if (pieces.length > limits.maxChainLength) throw chainTooLong(limits)
  const ders = pieces.map((piece) => {
    // Traefik writes no whitespace; a `, ` means Headers.get joined two copies of the header.
    if (!BASE64_ONLY.test(piece)) {
      throw malformed('ERR_HEADER_MALFORMED', 'The X-Forwarded-Tls-Client-Cert header is not as Traefik writes it.')
    }
    return decodeBase64(piece)
  })
  return { leaf: ders[0]!, chain: ders.slice(1) }
}

// ---------------------------------------------------------------------------------------------
// nginx, ingress-nginx

/**
 * nginx or ingress-nginx: `ssl-client-cert` from `$ssl_client_escaped_cert` (URL-encoded PEM)
 * or the deprecated `$ssl_client_cert` (PEM whose lines nginx prefixes with a tab, which
 * arrives as tab- or space-separated PEM), and `ssl-client-verify` from `$ssl_client_verify`:
 * `SUCCESS`, `NONE` (no certificate, whatever else arrived) or `FAILED:<reason>`
 * (ERR_PROXY_VERIFY_FAILED). The leaf only; nginx forwards no chain.
 *
 * A certificate without a verdict is refused (ERR_HEADER_MALFORMED): ingress-nginx always sets
 * both, and `proxy_set_header` drops a header whose variable is empty, so a lone certificate
 * header means the proxy is not configured as expected. Pass `verifyHeader: false` if your
 * nginx sends no verdict and refuses unverified clients itself.
 */
export function nginxSource(options: NginxSourceOptions = {}): CertificateSource {
  const certHeader = headerName('certHeader', options.certHeader ?? 'ssl-client-cert')
  const verifyHeader =
    options.verifyHeader === false
      ? null
      : headerName('verifyHeader', options.verifyHeader ?? 'ssl-client-verify')
  return pemLeafSource('nginx', certHeader, verifyHeader)
}

/** A URL-encoded (or plain) PEM leaf, optionally behind a verdict header. */
function pemLeafSource(
  name: string,
  certHeader: string,
  verifyHeader: string | null
): CertificateSource {
  function decode(value: string, limits: SourceLimits): ForwardedCertificate {
    return { leaf: decodeLeafOnly(decodePercent(value, `the ${certHeader} header`), limits), chain: [] }
  }
  const certificate = singleHeaderSource(name, certHeader, decode)
  return {
    name,
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      return withVerdict(headers, limits, verifyHeader, () => certificate.read(headers, limits))
    },
  }
}

// ---------------------------------------------------------------------------------------------
// AWS Application Load Balancer

/**
 * AWS ALB mutual TLS. Verify mode (default): `X-Amzn-Mtls-Clientcert-Leaf`, the leaf ALB
 * verified. Passthrough mode: `X-Amzn-Mtls-Clientcert`, the whole chain the client sent, leaf to
 * root, which ALB did NOT verify. Both are URL-encoded PEM "with +=/ as safe characters", so a
 * `+` is base64's and never a space. Only the configured mode's header is read: the other one
 * in a request can only have come from the client.
 */
export function albSource(options: AlbSourceOptions = {}): CertificateSource {
  const mode = options.mode ?? 'verify'
  if (mode === 'verify') return pemLeafSource('alb', 'x-amzn-mtls-clientcert-leaf', null)
  if (mode !== 'passthrough') {
    throw new TypeError("certgate: albSource mode must be 'verify' or 'passthrough'")
  }
  return singleHeaderSource('alb-passthrough', 'x-amzn-mtls-clientcert', (value, limits) => {
    const ders = decodeCertificates(decodePercent(value, 'the X-Amzn-Mtls-Clientcert header'), {
      maxCertificates: limits.maxChainLength,
    })
    return { leaf: ders[0]!, chain: ders.slice(1) }
  })
}

// ---------------------------------------------------------------------------------------------
// Azure App Service, Azure Application Gateway

/**
 * Azure App Service: `X-ARR-ClientCert`, the leaf as base64 DER. App Service checks nothing
 * about the certificate (aspnetcore#32268): validate the chain or pin thumbprints.
 */
export function appServiceSource(): CertificateSource {
  return singleHeaderSource('app-service', 'x-arr-clientcert', (value) => ({
    leaf: decodeBase64(value),
    chain: [],
  }))
}

/**
 * Azure Application Gateway: the headers your rewrite rules fill from `client_certificate`
 * (PEM; read URL-encoded or not, with newlines, spaces or none) and, optionally,
 * `client_certificate_verification` (`SUCCESS`, `NONE`, `FAILED:<reason>`). The leaf only.
 */
export function appGatewaySource(options: AppGatewaySourceOptions): CertificateSource {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('certgate: appGatewaySource needs { certHeader }')
  }
  const certHeader = headerName('certHeader', options.certHeader)
  const verifyHeader =
    options.verifyHeader === undefined ? null : headerName('verifyHeader', options.verifyHeader)
  return pemLeafSource('app-gateway', certHeader, verifyHeader)
}

// ---------------------------------------------------------------------------------------------
// Cloudflare

/**
 * Cloudflare Access mTLS: `Cf-Client-Cert-Der-Base64` (the leaf, base64 DER) and, when present,
 * `Cf-Client-Cert-Sha256`, handed on as `hash` for the verifier to check against the DER. The
 * facts do not pin that header's encoding; Cloudflare prints its SHA-256 fingerprints as
 * lowercase hex, so hex (any case, colons allowed) is read, and base64 of the 32 bytes too:
 * accepting both costs nothing, since a hash can only ever refuse. `verifyHeader`: a header you
 * fill from `certVerified` (e.g. in a Worker), in the nginx grammar.
 */
export function cloudflareSource(options: VerdictHeaderOption = {}): CertificateSource {
  const verifyHeader =
    options.verifyHeader === undefined ? null : headerName('verifyHeader', options.verifyHeader)
  return {
    name: 'cloudflare',
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      return withVerdict(headers, limits, verifyHeader, () => {
        const der = readHeader(headers, 'cf-client-cert-der-base64', limits)
        if (der === null) return null
        const hash = readHeader(headers, 'cf-client-cert-sha256', limits)
        return {
          // Header values never hold a newline, so `\n` separates them unambiguously.
          key: hash === null ? der : `${der}\n${hash}`,
          decode(): ForwardedCertificate {
            const result: ForwardedCertificate = { leaf: decodeBase64(der), chain: [] }
            if (hash !== null) result.hash = normaliseSha256(hash, 'Cf-Client-Cert-Sha256', true)
            return result
          },
        }
      })
    },
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 9440

/**
 * RFC 9440: `Client-Cert`, the leaf as an RFC 8941 byte sequence (`:base64:`), and
 * `Client-Cert-Chain`, a list of byte sequences that excludes the leaf. Parsed strictly: no
 * parameters (RFC 9440 defines none), no whitespace inside a sequence; padding may be left
 * out, as RFC 8941 asks parsers to allow. Cloudflare fills these "regardless of the certificate
 * validation result": validate the chain, or pass `verifyHeader`.
 */
export function rfc9440Source(options: VerdictHeaderOption = {}): CertificateSource {
  const verifyHeader =
    options.verifyHeader === undefined ? null : headerName('verifyHeader', options.verifyHeader)
  return {
    name: 'rfc9440',
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      return withVerdict(headers, limits, verifyHeader, () => {
        const cert = readHeader(headers, 'client-cert', limits)
        const chain = readHeader(headers, 'client-cert-chain', limits)
        if (cert === null) {
          if (chain !== null) {
            throw malformed('ERR_HEADER_MALFORMED', 'Client-Cert-Chain was sent without Client-Cert.')
          }
          return null
        }
        return {
          key: chain === null ? cert : `${cert}\n${chain}`,
          decode(): ForwardedCertificate {
            return {
              leaf: parseByteSequenceField(cert),
              chain: chain === null ? [] : parseByteSequenceList(chain, limits),
            }
          },
        }
      })
    },
  }
}

const COLON = 0x3a
const COMMA = 0x2c

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09
}

function isSfBase64(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2b || // +
    code === 0x2f || // /
    code === 0x3d // =
  )
}

/** RFC 8941 §4.2.7 from `start`: the bytes and the index after the closing `:`. */
function parseByteSequence(s: string, start: number): [Uint8Array, number] {
  if (s.charCodeAt(start) !== COLON) {
    throw malformed('ERR_HEADER_MALFORMED', 'An RFC 9440 value is not a byte sequence.')
  }
  let i = start + 1
  while (i < s.length && isSfBase64(s.charCodeAt(i))) i++
  if (i >= s.length || s.charCodeAt(i) !== COLON) {
    throw malformed('ERR_HEADER_MALFORMED', 'An RFC 9440 byte sequence is not closed, or holds non-base64 text.')
  }
  return [decodeBase64(s.slice(start + 1, i)), i + 1]
}

/** `Client-Cert`: exactly one byte sequence and nothing after it. */
function parseByteSequenceField(value: string): Uint8Array {
  const s = value.trim()
  const [bytes, end] = parseByteSequence(s, 0)
  if (end !== s.length) throw malformed('ERR_HEADER_MALFORMED', 'Client-Cert holds more than one byte sequence.')
  return bytes
}

/** `Client-Cert-Chain`: an RFC 8941 list (§4.2.1) of byte sequences, at most maxChainLength. */
function parseByteSequenceList(value: string, limits: SourceLimits): Uint8Array[] {
  const s = value.trim()
  const members: Uint8Array[] = []
  let i = 0
  while (i < s.length) {
    if (members.length === limits.maxChainLength) throw chainTooLong(limits)
    const [bytes, end] = parseByteSequence(s, i)
    members.push(bytes)
    i = end
    while (i < s.length && isOws(s.charCodeAt(i))) i++
    if (i === s.length) break
    if (s.charCodeAt(i) !== COMMA) throw malformed('ERR_HEADER_MALFORMED', 'Client-Cert-Chain is not a list.')
    i++
    while (i < s.length && isOws(s.charCodeAt(i))) i++
    if (i === s.length) throw malformed('ERR_HEADER_MALFORMED', 'Client-Cert-Chain ends with a comma.')
  }
  return members
}

// ---------------------------------------------------------------------------------------------
// Custom

/**
 * Your own function, for any other proxy (HAProxy, Apache, Caddy, GCP, CloudFront…). It gets
 * the request's headers, where every `get()` is held to `maxHeaderBytes`, and returns null for
 * no certificate, or a `key` and the certificate. Each string it returns is held to
 * `maxHeaderBytes` too, and the chain to `maxChainLength`. Text is read by
 * {@link decodeCertificates} with no URL-decoding: undo the proxy's escaping yourself.
 */
export function customSource(
  name: string,
  read: (headers: Headers) => CustomSourceResult | null
): CertificateSource {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError('certgate: customSource needs a name')
  }
  if (typeof read !== 'function') {
    throw new TypeError('certgate: customSource needs a read function')
  }
  return {
    name,
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      const result = read(boundedHeaders(headers, limits))
      if (result === null) return null
      if (typeof result !== 'object' || typeof result.key !== 'string') {
        throw new TypeError(`certgate: customSource ${name} must return null or { key, leaf }`)
      }
      const { key, leaf, chain = [], hash } = result
      if (!Array.isArray(chain)) {
        throw new TypeError(`certgate: customSource ${name}: chain must be an array`)
      }
      for (const part of [leaf, hash, ...chain]) {
        if (typeof part === 'string' && part.length > limits.maxHeaderBytes) throw tooLarge()
      }
      return {
        key,
        decode(): ForwardedCertificate {
          const decoded: ForwardedCertificate = {
            leaf: typeof leaf === 'string' ? decodeLeafOnly(leaf, limits) : bytesOf(leaf, name),
            chain: decodeCustomChain(chain, limits, name),
          }
          if (hash !== undefined) decoded.hash = normaliseSha256(hash, 'forwarded hash', false)
          return decoded
        },
      }
    },
  }
}

function bytesOf(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(
      `certgate: customSource ${name}: certificates must be strings or Uint8Array`
    )
  }
  // A copy, so what the verifier holds cannot change under it.
  return value.slice()
}

function decodeCustomChain(
  chain: Array<string | Uint8Array>,
  limits: SourceLimits,
  name: string
): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const part of chain) {
    const remaining = limits.maxChainLength - out.length
    if (remaining <= 0) throw chainTooLong(limits)
    if (typeof part === 'string') {
      const blocks = decodeCertificates(part, { maxCertificates: remaining })
      out.push(...blocks)
    } else {
      out.push(bytesOf(part, name))
    }
  }
  return out
}

/** The request's headers, with `get()` refusing a value over maxHeaderBytes. */
function boundedHeaders(headers: Headers, limits: SourceLimits): Headers {
  function get(name: string): string | null {
    const value = headers.get(name)
    if (value !== null && value.length > limits.maxHeaderBytes) throw tooLarge()
    return value
  }
  return new Proxy(headers, {
    get(target: Headers, property: string | symbol): unknown {
      if (property === 'get') return get
      // Headers methods check their receiver, so they are called on the real object.
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

// ---------------------------------------------------------------------------------------------
// By name

/**
 * A source by the name a setting such as `CLIENT_CERT_SOURCE` holds: one of
 * {@link SOURCE_NAMES}, with default options. An unknown name throws a TypeError. (Application
 * Gateway and custom sources need options, so they have no name here.)
 */
export function sourceByName(name: string): CertificateSource {
  switch (name as SourceName) {
    case 'xfcc':
      return xfccSource()
    case 'traefik':
      return traefikSource()
    case 'nginx':
      return nginxSource()
    case 'alb':
      return albSource()
    case 'alb-passthrough':
      return albSource({ mode: 'passthrough' })
    case 'app-service':
      return appServiceSource()
    case 'cloudflare':
      return cloudflareSource()
    case 'rfc9440':
      return rfc9440Source()
    default:
      throw new TypeError(
        `certgate: unknown certificate source ${JSON.stringify(name)}; ` +
          `use one of ${SOURCE_NAMES.join(', ')}`
      )
  }
}
