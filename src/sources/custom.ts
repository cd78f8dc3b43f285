/**
 * A source of your own, for any proxy certgate has no source for.
 * @module
 */
import { decodeCertificates } from '../x509/pem.ts'
import {
  type CertificateSource,
  chainTooLong,
  decodeLeafOnly,
  type ForwardedCertificate,
  normaliseSha256,
  type SourceLimits,
  type SourceRead,
  tooLarge,
} from './source.ts'

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
    throw new TypeError('customSource name must be a non-empty string.')
  }
  if (typeof read !== 'function') {
    throw new TypeError('customSource read must be a function.')
  }
  return {
    name,
    read(headers: Headers, limits: SourceLimits): SourceRead | null {
      const result = read(boundedHeaders(headers, limits))
      if (result === null) return null
      return checkedRead(result, name, limits)
    },
  }
}

/** What the function returned, checked now, decoded when asked. */
function checkedRead(result: CustomSourceResult, name: string, limits: SourceLimits): SourceRead {
  if (typeof result !== 'object' || typeof result.key !== 'string') {
    throw new TypeError(`customSource ${name} must return null or { key, leaf }.`)
  }
  const { key, leaf, chain = [], hash } = result
  if (!Array.isArray(chain)) {
    throw new TypeError(`customSource ${name} chain must be an array.`)
  }
  for (const part of [leaf, hash, ...chain]) {
    if (typeof part === 'string' && part.length > limits.maxHeaderBytes) throw tooLarge()
  }
  return {
    key,
    decode(): ForwardedCertificate {
      const decoded: ForwardedCertificate = {
        leaf: typeof leaf === 'string' ? decodeLeafOnly(leaf, limits) : bytesOf(leaf, name),
        chain: decodeChain(chain, limits, name),
      }
      if (hash !== undefined) decoded.hash = normaliseSha256(hash, 'forwarded hash', false)
      return decoded
    },
  }
}

function bytesOf(value: unknown, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`customSource ${name} certificates must be strings or Uint8Array.`)
  }
  // A copy, so what the verifier holds cannot change under it.
  return value.slice()
}

function decodeChain(
  chain: Array<string | Uint8Array>,
  limits: SourceLimits,
  name: string
): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const part of chain) {
    const remaining = limits.maxChainLength - out.length
    if (remaining <= 0) throw chainTooLong(limits)
    if (typeof part === 'string') {
      out.push(...decodeCertificates(part, { maxCertificates: remaining }))
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
