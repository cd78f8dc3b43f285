/**
 * What a certificate is meant for, by extended key usage: the purposes certgate checks, and the
 * one rule for a leaf (the one both the trust checks and the certificate-use policy apply).
 * @module
 */

/** What the leaf authenticates as: a TLS client (certgate's default) or a TLS server. */
export type Purpose = 'clientAuth' | 'serverAuth'

/** The extendedKeyUsage OID of each purpose. */
export const PURPOSE_OIDS: Readonly<Record<Purpose, string>> = {
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
}

export const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0'

/**
 * Whether a leaf's extendedKeyUsage (null when absent) allows `purpose`: absent, or listing it.
 * anyExtendedKeyUsage alone does not count for a leaf, as with OpenSSL.
 */
export function leafAllowsPurpose(ekus: readonly string[] | null, purpose: Purpose): boolean {
  return ekus === null || ekus.includes(PURPOSE_OIDS[purpose])
}
