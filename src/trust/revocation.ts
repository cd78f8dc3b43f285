/**
 * Revocation by CRL: the checker that applies configured and, optionally, fetched CRLs (parsed
 * by `x509/crl.ts`) to a validated path.
 *
 * Fail-closed decisions, each documented on {@link RevocationOptions}: a CRL whose signature does
 * not verify with its issuer CA's key, that its CA may not sign (keyUsage without cRLSign), that
 * is not valid yet, or that carries any critical extension (delta CRLs, partitioned and indirect
 * CRLs are not supported) refuses the request with ERR_CRL_INVALID. A serial listed in a CRL
 * whose signature verifies is revoked even when the CRL is past nextUpdate.
 *
 * A CRL applies to a certificate when its issuer Name has the same DER bytes as the certificate's
 * issuer field, or its authority key id equals the issuing CA's subject key id; the CRL's
 * signature by that CA is what binds it. Where no CRL for an issuer is configured or fetched, that
 * link goes unchecked.
 *
 * Fetching is `crl-fetcher.ts`'s; a fetched CRL is checked here — its issuer, the CA's cRLSign,
 * its signature — before the fetcher keeps it, so a forged answer is an outage, never a verdict.
 * The fetcher keeps it under the key that verified it, and its issuer and cRLSign are checked
 * again on each use, so one kept across a change of trust material counts only for that key.
 * A refusal that rests on a fetch says until when ({@link refusalRetryAt}), so no cache keeps it
 * past the next fetch.
 * @module
 */
import { CrlFetcher, type FetchCrlsOptions } from './crl-fetcher.ts'
import { toHex } from '../bytes.ts'
import { CertgateError, isCertgateError } from '../errors.ts'
import { type CertificateList, invalidCrl, readCrls } from '../x509/crl.ts'
import type { CertificateExtras } from '../x509/fields.ts'
import { type SignatureVerdict, type SignerKey, verifySignature } from '../x509/signature.ts'

/** Revocation settings (a subset of `TrustOptions`). */
export interface RevocationOptions {
  /**
   * PEM (`X509 CRL` or `CRL` blocks; text around them is skipped) or DER. Checked against the CA
   * that issued each path certificate.
   */
  crls?: ReadonlyArray<string | Uint8Array>
  /** A CRL past nextUpdate + tolerance: `'refuse'` (default, ERR_CRL_INVALID) or `'ignore'` it. */
  staleCrl?: 'refuse' | 'ignore'
  fetchCrls?: FetchCrlsOptions
}

/** A certificate of a validated path whose status is to be checked, with the CA that issued it. */
export interface RevocationLink {
  readonly serialNumber: string
  readonly extras: CertificateExtras
  readonly isLeaf: boolean
  readonly issuer: {
    readonly keyUsage: number | null
    readonly subjectKeyIdentifier: string | null
    readonly signer: SignerKey
  }
}

const KEY_USAGE_CRL_SIGN = 64

interface ConfiguredCrl {
  readonly crl: CertificateList
  readonly verdicts: WeakMap<SignerKey, Promise<SignatureVerdict>>
}

// Refusals that rest on a fetch → when the checker will fetch again.
const retryTimes = new WeakMap<CertgateError, number>()

/**
 * When a refusal stops holding because the checker will fetch a CRL again (a point that failed,
 * or a fetched CRL not current); Infinity for a refusal that is final.
 */
export function refusalRetryAt(error: CertgateError): number {
  return retryTimes.get(error) ?? Infinity
}

/** Marks `error` as holding only until `at`; a revocation stays final. */
function retryable(error: unknown, at: number): unknown {
  if (isCertgateError(error) && error.code === 'ERR_CRL_INVALID') retryTimes.set(error, at)
  return error
}

/** Applies configured and fetched CRLs to validated paths. */
export class RevocationChecker {
  readonly #byIssuer = new Map<string, ConfiguredCrl[]>()
  // Also by key id: a CA that re-encodes its Name in its CRLs is still found by its key.
  readonly #byKeyId = new Map<string, ConfiguredCrl[]>()
  readonly #stale: 'refuse' | 'ignore'
  readonly #fetcher: CrlFetcher | null

  /**
   * Parses configured CRLs; bad options throw TypeError naming the problem. `shared`: the fetcher
   * of the checker this one replaces (see {@link withCrls}).
   */
  constructor(options: RevocationOptions, shared?: { readonly fetcher: CrlFetcher | null }) {
    const { crls = [], staleCrl = 'refuse', fetchCrls } = options
    if (staleCrl !== 'refuse' && staleCrl !== 'ignore') {
      throw new TypeError("trust.staleCrl must be 'refuse' or 'ignore'.")
    }
    this.#stale = staleCrl
    if (!Array.isArray(crls)) throw new TypeError('trust.crls must be an array.')
    crls.forEach((input, i) => {
      for (const crl of configuredCrls(input, `trust.crls[${i}]`)) {
        const entry: ConfiguredCrl = { crl, verdicts: new WeakMap() }
        addTo(this.#byIssuer, crl.issuerNameKey, entry)
        if (crl.authorityKeyIdentifier !== null) {
          addTo(this.#byKeyId, crl.authorityKeyIdentifier, entry)
        }
      }
    })
    if (shared !== undefined) this.#fetcher = shared.fetcher
    else this.#fetcher = fetchCrls === undefined ? null : new CrlFetcher(fetchCrls)
  }

  /**
   * A checker with other configured CRLs, the same settings and the same fetcher: what it
   * downloaded stays cached, each CRL bound to the issuer key that verified it.
   */
  withCrls(crls: ReadonlyArray<string | Uint8Array>): RevocationChecker {
    return new RevocationChecker({ crls, staleCrl: this.#stale }, { fetcher: this.#fetcher })
  }

  /** Stops the fetcher's background work; the checker still answers. */
  close(): void {
    this.#fetcher?.close()
  }

  /** True when there is anything to check. */
  get active(): boolean {
    return this.#byIssuer.size > 0 || this.#fetcher !== null
  }

  /**
   * Checks each link; throws ERR_CERT_REVOKED or ERR_CRL_INVALID. Returns the time until which
   * the CRLs used stay current (Infinity when none bounds it).
   */
  async check(
    links: readonly RevocationLink[],
    nowMs: number,
    toleranceMs: number
  ): Promise<number> {
    let validUntil = Infinity
    for (const link of links) {
      const configured = this.#configuredFor(link)
      if (configured !== null) {
        await requireSigned(configured, link)
        validUntil = Math.min(validUntil, this.#apply(configured.crl, link, nowMs, toleranceMs))
      }
      if (this.#fetcher !== null && link.isLeaf && link.extras.distributionPoints.length > 0) {
        validUntil = Math.min(validUntil, await this.#checkFetched(link, nowMs, toleranceMs))
      }
    }
    return validUntil
  }

  /** The newest configured CRL from this link's issuer (by Name, and key id when both have one). */
  #configuredFor(link: RevocationLink): ConfiguredCrl | null {
    const ski = link.issuer.subjectKeyIdentifier
    const byName = this.#byIssuer.get(link.extras.issuerNameKey) ?? []
    const byKey = ski === null ? [] : (this.#byKeyId.get(ski) ?? [])
    let best: ConfiguredCrl | null = null
    for (const candidate of [...byName, ...byKey]) {
      if (!sameAuthority(candidate.crl, link)) continue
      if (best === null || candidate.crl.thisUpdate > best.crl.thisUpdate) best = candidate
    }
    return best
  }

  /** Applies one CRL whose signature verified; returns its bound on the verdict. */
  #apply(crl: CertificateList, link: RevocationLink, nowMs: number, toleranceMs: number): number {
    // Revocation is final, so a listed serial counts even when the CRL is out of date.
    if (crl.revoked.has(link.serialNumber)) {
      throw new CertgateError(
        'ERR_CERT_REVOKED',
        link.isLeaf
          ? 'The client certificate has been revoked.'
          : 'An issuing CA certificate has been revoked.'
      )
    }
    if (crl.thisUpdate - toleranceMs > nowMs) throw invalidCrl('CRL not valid yet')
    if (crl.nextUpdate === null) return Infinity
    if (crl.nextUpdate + toleranceMs < nowMs) {
      if (this.#stale === 'refuse') throw invalidCrl('CRL past nextUpdate')
      return Infinity
    }
    return crl.nextUpdate + toleranceMs
  }

  /**
   * Applies the first usable CRL at the leaf's distribution points. Without one: refuses (until
   * the checker fetches again) or, with onFailure 'allow', admits until then.
   */
  async #checkFetched(link: RevocationLink, nowMs: number, toleranceMs: number): Promise<number> {
    const fetcher = this.#fetcher!
    const deadline = Date.now() + fetcher.settings.timeoutMs
    const issuer = toHex(link.issuer.signer.spki)
    const check = (crl: CertificateList): Promise<void> => requireIssued(crl, link)
    let retryAt = Infinity
    for (const url of link.extras.distributionPoints) {
      const fetched = await fetcher.get({ url, issuer, check, nowMs, deadline })
      if ('retryAt' in fetched) {
        retryAt = Math.min(retryAt, fetched.retryAt)
        continue
      }
      try {
        // Kept under the key that verified its signature; the rest is this link's to re-check,
        // as the CA it was kept for may since have been replaced by one with the same key.
        requireApplies(fetched.crl, link)
        return Math.min(fetched.expiresAt, this.#apply(fetched.crl, link, nowMs, toleranceMs))
      } catch (error) {
        // Not current yet or any more: the next download may be, so the refusal lasts until then.
        throw retryable(error, fetched.expiresAt)
      }
    }
    if (fetcher.settings.onFailure === 'refuse') {
      throw retryable(invalidCrl('no usable CRL at the distribution points'), retryAt)
    }
    return retryAt
  }
}

function addTo(map: Map<string, ConfiguredCrl[]>, key: string, entry: ConfiguredCrl): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [entry])
  else list.push(entry)
}

/**
 * Throws ERR_CRL_INVALID unless a fetched CRL is the link issuer's: its Name's bytes or its key
 * id, no other key's id, and signed by the issuer, which may sign CRLs.
 */
async function requireIssued(crl: CertificateList, link: RevocationLink): Promise<void> {
  requireApplies(crl, link)
  await requireSigned({ crl, verdicts: new WeakMap() }, link)
}

/** Throws ERR_CRL_INVALID unless the CRL names the link's issuer (Name bytes or key id), no other key. */
function requireApplies(crl: CertificateList, link: RevocationLink): void {
  const ski = link.issuer.subjectKeyIdentifier
  const named =
    crl.issuerNameKey === link.extras.issuerNameKey ||
    (ski !== null && crl.authorityKeyIdentifier === ski)
  if (!named || !sameAuthority(crl, link)) throw invalidCrl('CRL from another issuer')
  requireCrlSign(link)
}

/** False when both the CRL and the issuing CA name a key, and the keys differ. */
function sameAuthority(crl: CertificateList, link: RevocationLink): boolean {
  const ski = link.issuer.subjectKeyIdentifier
  return crl.authorityKeyIdentifier === null || ski === null || crl.authorityKeyIdentifier === ski
}

/** Throws ERR_CRL_INVALID unless the link's issuer may sign CRLs and signed this one. */
async function requireSigned(entry: ConfiguredCrl, link: RevocationLink): Promise<void> {
  requireCrlSign(link)
  const { signer } = link.issuer
  let verdict = entry.verdicts.get(signer)
  if (verdict === undefined) {
    verdict = verifySignature(entry.crl.signedObject, signer)
    entry.verdicts.set(signer, verdict)
  }
  if ((await verdict) !== 'valid') throw invalidCrl('CRL signature does not verify')
}

/** Throws ERR_CRL_INVALID when the link's issuer has a keyUsage without cRLSign. */
function requireCrlSign(link: RevocationLink): void {
  const { keyUsage } = link.issuer
  if (keyUsage !== null && (keyUsage & KEY_USAGE_CRL_SIGN) === 0) {
    throw invalidCrl('issuer lacks cRLSign')
  }
}

/** The CRLs of one `trust.crls` entry; throws TypeError naming `what`. */
function configuredCrls(input: string | Uint8Array, what: string): CertificateList[] {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new TypeError(`${what} must be PEM text or DER bytes.`)
  }
  try {
    return readCrls(input)
  } catch (error) {
    if (!isCertgateError(error)) throw error
    const reason = error.cause instanceof Error ? error.cause.message : 'unreadable'
    throw new TypeError(`${what} is not a valid CRL (${reason}).`)
  }
}
