/**
 * The trust store: the configured roots and intermediates, each parsed and checked to be a CA
 * once, its public key imported at most once for the life of the verifier, found by subject;
 * and, per request, the certificates the client sent, looked up alongside them.
 * @module
 */
import { equalBytes } from '../bytes.ts'
import { decodePem } from '../x509/pem.ts'
import { parseCertificate, type ParsedCertificate } from '../x509/fields.ts'
import { distinguishedNameKey } from '../x509/name.ts'
import { SignerKey } from '../x509/signature.ts'

/** One certificate that may sit on a path. */
export interface PathCert {
  /** Configured ones count from 0; the request's follow; the leaf is -1. */
  readonly id: number
  readonly der: Uint8Array
  readonly parsed: ParsedCertificate
  readonly subjectKey: string
  readonly issuerKey: string
  readonly configured: boolean
  readonly isRoot: boolean
  /** Its key: set now for configured CAs, taken from the verifier's pool when first needed. */
  signer: SignerKey | null
}

/** The configured certificates, as `TrustOptions` gives them. */
export interface TrustStoreOptions {
  roots: ReadonlyArray<string | Uint8Array>
  intermediates: ReadonlyArray<string | Uint8Array>
}

/** Finds the certificates that may sit above one on a path, by their subject's name key. */
export type IssuerLookup = (subjectKey: string) => readonly PathCert[]

const MAX_CONFIGURED = 1000

/** The configured CAs, by subject. */
export class TrustStore {
  readonly #bySubject = new Map<string, PathCert[]>()
  #size = 0

  /** Parses every certificate now; bad options throw TypeError naming the entry. */
  constructor(options: TrustStoreOptions) {
    options.roots.forEach((input, i) => this.#addAll(input, `trust.roots[${i}]`, true))
    options.intermediates.forEach((input, i) => {
      this.#addAll(input, `trust.intermediates[${i}]`, false)
    })
  }

  /** How many certificates it holds: request certificates are numbered from here. */
  get size(): number {
    return this.#size
  }

  /** The configured certificates with this subject, roots first. */
  lookup(subjectKey: string): readonly PathCert[] {
    return this.#bySubject.get(subjectKey) ?? []
  }

  /**
   * A lookup over the configured certificates and those of one request's chain. A chain
   * certificate that is configured, the leaf, or one sent twice is used once, as configured.
   */
  withChain(leaf: Uint8Array, chain: readonly Uint8Array[]): IssuerLookup {
    const sent = new Map<string, PathCert[]>()
    let nextId = this.#size
    for (const der of chain) {
      if (equalBytes(der, leaf)) continue
      const parsed = parseCertificate(der)
      const [subjectKey] = nameKeys(parsed)
      const known = [...this.lookup(subjectKey), ...(sent.get(subjectKey) ?? [])]
      if (known.some((node) => equalBytes(node.der, der))) continue
      const list = sent.get(subjectKey) ?? []
      list.push(requestCert(nextId++, der, parsed))
      sent.set(subjectKey, list)
    }
    return (key) => [...this.lookup(key), ...(sent.get(key) ?? [])]
  }

  #addAll(input: string | Uint8Array, what: string, isRoot: boolean): void {
    for (const der of decodeConfigured(input, what)) {
      const parsed = parseCaCertificate(der, what)
      const subjectKey = distinguishedNameKey(parsed.fields.subject)
      const same = this.#bySubject.get(subjectKey) ?? []
      // A certificate configured twice (or as both root and intermediate) counts once, as a root.
      if (same.some((node) => equalBytes(node.der, der))) continue
      if (this.#size >= MAX_CONFIGURED) {
        throw new TypeError(`trust holds more than ${MAX_CONFIGURED} certificates.`)
      }
      const { subjectPublicKeyInfo, publicKeyAlgorithm, namedCurve } = parsed.signatureParts()
      // Read now, so a CA whose extensions cannot be read stops the verifier being built.
      parsed.extras()
      same.push({
        id: this.#size++,
        der: der.slice(),
        parsed,
        subjectKey,
        issuerKey: distinguishedNameKey(parsed.fields.issuer),
        configured: true,
        isRoot,
        signer: new SignerKey(subjectPublicKeyInfo, publicKeyAlgorithm, namedCurve),
      })
      // Roots first: a path that can end should end.
      same.sort((a, b) => Number(b.isRoot) - Number(a.isRoot))
      this.#bySubject.set(subjectKey, same)
    }
  }
}

// A path's checks ask for these keys several times per certificate (search, self-issued tests).
const nameKeysByCert = new WeakMap<ParsedCertificate, readonly [subject: string, issuer: string]>()

/** A certificate's subject and issuer keys (`distinguishedNameKey`), computed once per parse. */
export function nameKeys(parsed: ParsedCertificate): readonly [subject: string, issuer: string] {
  let keys = nameKeysByCert.get(parsed)
  if (keys === undefined) {
    keys = [distinguishedNameKey(parsed.fields.subject), distinguishedNameKey(parsed.fields.issuer)]
    nameKeysByCert.set(parsed, keys)
  }
  return keys
}

/** A certificate that came with the request. */
export function requestCert(id: number, der: Uint8Array, parsed: ParsedCertificate): PathCert {
  const [subjectKey, issuerKey] = nameKeys(parsed)
  return {
    id,
    der,
    parsed,
    subjectKey,
    issuerKey,
    configured: false,
    isRoot: false,
    signer: null,
  }
}

/**
 * The DER certificates of one configured entry: DER bytes, or PEM text read as OpenSSL reads a
 * bundle (CERTIFICATE blocks, text around them skipped). Throws TypeError naming `what`.
 */
export function decodeConfigured(input: string | Uint8Array, what: string): Uint8Array[] {
  if (input instanceof Uint8Array) return [input]
  if (typeof input !== 'string') throw new TypeError(`${what} must be PEM text or DER bytes.`)
  const notPem = `${what} is not PEM CERTIFICATE text`
  let ders: Uint8Array[]
  try {
    ders = decodePem(input, { labels: ['CERTIFICATE'] })
  } catch (error) {
    throw new TypeError(`${notPem}: ${error instanceof Error ? error.message : 'unreadable.'}`)
  }
  if (ders.length === 0) throw new TypeError(`${notPem}: it holds no CERTIFICATE PEM block.`)
  return ders
}

/** Parses a configured certificate that must be a CA; throws TypeError naming `what`. */
function parseCaCertificate(der: Uint8Array, what: string): ParsedCertificate {
  let parsed: ParsedCertificate
  try {
    parsed = parseCertificate(der)
  } catch {
    throw new TypeError(`${what} is not a parsable X.509 certificate.`)
  }
  if (parsed.fields.basicConstraints?.ca !== true) {
    throw new TypeError(`${what} is not a CA certificate (basicConstraints cA is not true).`)
  }
  return parsed
}
