/**
 * Reads the few X.509 fields certgate decides on from a certificate's DER bytes.
 * (Interim implementation on @peculiar/x509; to be replaced by a bounded lean DER reader.)
 * @module
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { CertgateError } from './errors.ts'

/** The fields certgate reads from one certificate. Names are RFC 4514 strings. */
export interface CertificateFields {
  /** Serial number, uppercase hex, without the sign octet DER adds (`00` before a high bit). */
  serialNumber: string
  /** Subject DN in RFC 4514 form (most specific RDN first, `,` between RDNs, `+` inside one). */
  subject: string
  /** Issuer DN in RFC 4514 form. */
  issuer: string
  /** The most specific CN of the subject, or null when it has none. */
  commonName: string | null
  notBefore: Date
  notAfter: Date
  dnsNames: string[]
  uris: string[]
  emails: string[]
  /** IP SANs as text: dotted IPv4, or IPv6 in RFC 5952 form. */
  ips: string[]
  /** Extended key usage OIDs, or null when the extension is absent. */
  extendedKeyUsages: string[] | null
  /** KeyUsage bits (bit 0 = digitalSignature … bit 8 = decipherOnly as x509.KeyUsageFlags), or null when absent. */
  keyUsage: number | null
  /** basicConstraints, or null when absent. */
  basicConstraints: { ca: boolean; pathLength: number | null } | null
  /** Subject key identifier, uppercase hex, or null. */
  subjectKeyIdentifier: string | null
  /** Authority key identifier (keyIdentifier), uppercase hex, or null. */
  authorityKeyIdentifier: string | null
}

const RFC4514_SHORT: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
}

/** Reads the fields; throws ERR_CERT_MALFORMED when the bytes are not one X.509 certificate. */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  let cert: x509.X509Certificate
  try {
    cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>)
  } catch (cause) {
    throw new CertgateError('ERR_CERT_MALFORMED', 'The client certificate could not be parsed.', { cause })
  }
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension)
  const names = san?.names.items ?? []
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)
  const ku = cert.getExtension(x509.KeyUsagesExtension)
  const bc = cert.getExtension(x509.BasicConstraintsExtension)
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)
  const cns = cert.subjectName.getField('CN')
  return {
    serialNumber: cert.serialNumber.toUpperCase().replace(/^(00)+(?=.)/, ''),
    subject: rfc4514(cert.subjectName),
    issuer: rfc4514(cert.issuerName),
    commonName: cns.length > 0 ? cns[cns.length - 1]! : null,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    uris: names.filter((n) => n.type === 'url').map((n) => n.value),
    emails: names.filter((n) => n.type === 'email').map((n) => n.value),
    ips: names.filter((n) => n.type === 'ip').map((n) => n.value),
    extendedKeyUsages: eku ? eku.usages.map(String) : null,
    keyUsage: ku ? ku.usages : null,
    basicConstraints: bc ? { ca: bc.ca, pathLength: bc.pathLength ?? null } : null,
    subjectKeyIdentifier: ski ? ski.keyId.toUpperCase() : null,
    authorityKeyIdentifier: aki?.keyId ? aki.keyId.toUpperCase() : null,
  }
}

function rfc4514(name: x509.Name): string {
  const rdns = name.toJSON()
  return rdns
    .slice()
    .reverse()
    .map((rdn) =>
      Object.entries(rdn)
        .flatMap(([type, values]) => values.map((v) => `${RFC4514_SHORT[type] ?? shortName(type)}=${escapeValue(v)}`))
        .join('+')
    )
    .join(',')
}

function shortName(type: string): string {
  return type
}

function escapeValue(value: string): string {
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
}
