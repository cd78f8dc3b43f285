/**
 * Trust material as operators keep it in files: a file's bytes read as the library's readers
 * take them (PEM text when it holds a PEM block, else DER), and what each kind of file gives —
 * CA bundles split into roots and intermediates as `readCaBundle` does, files of roots, files of
 * intermediates, files of CRLs — checked completely, so a file that does not parse is refused
 * whole, before any of it is used.
 * @module
 */
import { readCaBundle } from './ca-bundle.ts'
import { isCertgateError } from '../errors.ts'
import { type CertificateList, CRL_LIMITS, readCrls } from '../x509/crl.ts'
import { DerReader, TAG_INTEGER, TAG_SEQUENCE } from '../x509/der.ts'
import { readName } from '../x509/name.ts'

const PEM_BEGIN = '-----BEGIN'

/** The kinds of trust file: what a file's certificates are, or that it holds CRLs. */
export type TrustFileKind = 'bundles' | 'roots' | 'intermediates' | 'crls'

/** What one file gives to the trust material. */
export interface TrustFileParts {
  /** Roots, one PEM certificate per entry. */
  readonly roots: readonly string[]
  /** Intermediates, one PEM certificate per entry. */
  readonly intermediates: readonly string[]
  readonly crls: readonly CertificateList[]
}

/**
 * A trust file's bytes as `createTrustVerifier`, `readCaBundle` and `decodeCrls` take them: its
 * text when it holds a PEM block (`-----BEGIN`), else the bytes themselves, as DER.
 */
export function trustFileContents(bytes: Uint8Array): string | Uint8Array {
  const text = new TextDecoder().decode(bytes)
  return text.includes(PEM_BEGIN) ? text : bytes
}

/**
 * Reads one trust file of a kind. A certificate file must hold only CAs, each parsable; a CRL
 * file only CRLs, each parsable. Throws an Error saying why (the caller names the file).
 */
export function readTrustFile(kind: TrustFileKind, bytes: Uint8Array): TrustFileParts {
  const contents = trustFileContents(bytes)
  if (kind === 'crls') {
    try {
      return { roots: [], intermediates: [], crls: readCrls(contents) }
    } catch (error) {
      if (!isCertgateError(error)) throw error
      const reason = error.cause instanceof Error ? error.cause.message : 'unreadable'
      throw new Error(`not a CRL file (${reason})`)
    }
  }
  // Every certificate file is read as a bundle: each certificate a parsable CA, duplicates once.
  const bundle = readCaBundle(contents)
  const all = [...bundle.roots, ...bundle.intermediates]
  if (kind === 'roots') return { roots: all, intermediates: [], crls: [] }
  if (kind === 'intermediates') return { roots: [], intermediates: all, crls: [] }
  return { ...bundle, crls: [] }
}

/** A CRL's issuer as RFC 4514 text, as certgate shows a certificate's issuer. */
export function crlIssuer(crl: CertificateList): string {
  const r = new DerReader(crl.der, CRL_LIMITS)
  const tbs = r.children(r.children(r.root(TAG_SEQUENCE)).expect(TAG_SEQUENCE))
  // TBSCertList: version (an INTEGER, absent in v1), signature algorithm, then the issuer Name.
  tbs.optional(TAG_INTEGER)
  tbs.expect(TAG_SEQUENCE)
  return readName(r, tbs.expect(TAG_SEQUENCE)).dn
}

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * When to warn that a CRL is about to go stale: `warningMs` before its nextUpdate, or by default
 * a quarter of its lifetime (thisUpdate to nextUpdate) before, at most a day. null when it has
 * no nextUpdate (it never goes stale).
 */
export function crlWarningAt(crl: CertificateList, warningMs: number | undefined): number | null {
  if (crl.nextUpdate === null) return null
  const lead = warningMs ?? Math.min(DAY_MS, Math.max(0, crl.nextUpdate - crl.thisUpdate) / 4)
  return crl.nextUpdate - lead
}
