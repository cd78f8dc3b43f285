/**
 * The reference reader: the same fields as `src/x509/fields.ts`, read with @peculiar/x509 (asn1js).
 * This was certgate's interim implementation; the differential tests hold the lean DER reader to
 * it, so its output (RFC 4514 formatting included) is the specification, quirks and all.
 * @module
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { CertgateError } from '../../src/errors.ts'
import type { CertificateFields, CertificateSignatureParts } from '../../src/x509/fields.ts'

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
export function referenceCertificateFields(der: Uint8Array): CertificateFields {
  let cert: x509.X509Certificate
  try {
    cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>)
  } catch (cause) {
    throw new CertgateError('ERR_CERT_MALFORMED', 'The client certificate could not be parsed.', {
      cause,
    })
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
    serialNumber: signedSerial(serialContent(cert)),
    subject: rfc4514(cert.subjectName),
    issuer: rfc4514(cert.issuerName),
    commonName: cns.length > 0 ? cns[cns.length - 1]! : null,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    uris: names.filter((n) => n.type === 'url').map((n) => n.value),
    emails: names.filter((n) => n.type === 'email').map((n) => n.value),
    ips: names.filter((n) => n.type === 'ip').map((n) => n.value),
    // Array.from: `usages` is an asn1-schema array subclass, and `map` would keep its species.
    extendedKeyUsages: eku ? Array.from(eku.usages, String) : null,
    keyUsage: ku ? ku.usages : null,
    basicConstraints: bc ? { ca: bc.ca, pathLength: bc.pathLength ?? null } : null,
    subjectKeyIdentifier: ski ? ski.keyId.toUpperCase() : null,
    authorityKeyIdentifier: aki?.keyId ? aki.keyId.toUpperCase() : null,
  }
}

/** What @peculiar/x509 keeps of the parsed ASN.1 behind its protected `asn` member. */
interface AsnCertificateView {
  signatureAlgorithm: { algorithm: string; parameters?: ArrayBuffer | null }
  tbsCertificate: {
    subjectPublicKeyInfo: { algorithm: { algorithm: string; parameters?: ArrayBuffer | null } }
  }
}

/**
 * The signature parts, read with @peculiar/x509. Its public key API names only the curves it
 * knows, so the curve OID is decoded here from the raw parameters it keeps.
 */
export function referenceSignatureParts(der: Uint8Array): CertificateSignatureParts {
  const cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>)
  const asn = (cert as unknown as { asn: AsnCertificateView }).asn
  const tbs = (cert as unknown as { tbs: ArrayBuffer }).tbs
  const keyAlgorithm = asn.tbsCertificate.subjectPublicKeyInfo.algorithm
  const parameters = keyAlgorithm.parameters ? new Uint8Array(keyAlgorithm.parameters) : null
  return {
    tbsCertificate: new Uint8Array(tbs),
    signatureAlgorithm: asn.signatureAlgorithm.algorithm,
    signatureValue: new Uint8Array(cert.signature),
    subjectPublicKeyInfo: new Uint8Array(cert.publicKey.rawData),
    publicKeyAlgorithm: keyAlgorithm.algorithm,
    namedCurve: keyAlgorithm.algorithm === '1.2.840.10045.2.1' && parameters?.[0] === 0x06
      ? oidText(parameters)
      : null,
    signatureParameters: asn.signatureAlgorithm.parameters
      ? new Uint8Array(asn.signatureAlgorithm.parameters)
      : null,
  }
}

/** A short-form OBJECT IDENTIFIER TLV as dotted text, exact for any arc size (BigInt). */
function oidText(tlv: Uint8Array): string {
  const arcs: bigint[] = []
  let value = 0n
  for (const octet of tlv.subarray(2, 2 + tlv[1]!)) {
    value = (value << 7n) | BigInt(octet & 0x7f)
    if ((octet & 0x80) === 0) {
      arcs.push(value)
      value = 0n
    }
  }
  const first = arcs[0] ?? 0n
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n]
  return [...head, ...arcs.slice(1)].join('.')
}

function rfc4514(name: x509.Name): string {
  const rdns = name.toJSON()
  return rdns
    .slice()
    .reverse()
    .map((rdn) =>
      Object.entries(rdn)
        .flatMap(([type, values]) =>
          values.map((v) => `${RFC4514_SHORT[type] ?? shortName(type)}=${escapeValue(v)}`)
        )
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

/**
 * The serial's INTEGER content octets. The public `serialNumber` drops a `00` sign octet, so a
 * positive serial and a negative one with the same low octets read alike there; the parsed ASN.1
 * (a protected member) still holds the octets as encoded.
 */
function serialContent(cert: x509.X509Certificate): Uint8Array {
  const asn = (cert as unknown as { asn: { tbsCertificate: { serialNumber: ArrayBuffer } } }).asn
  return new Uint8Array(asn.tbsCertificate.serialNumber)
}

/**
 * The serial as certgate shows it: positive without the `00` sign octet, a negative one as `-`
 * and its magnitude, both in whole octets. Computed with BigInt, apart from certgate's own octet
 * arithmetic.
 */
function signedSerial(content: Uint8Array): string {
  const hex = Array.from(content, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase()
  if (content[0]! < 0x80) return hex.replace(/^(00)+(?=.)/, '')
  const magnitude = (1n << BigInt(hex.length * 4)) - BigInt(`0x${hex}`)
  const digits = magnitude.toString(16).toUpperCase()
  return `-${digits.length % 2 === 0 ? digits : `0${digits}`}`
}
