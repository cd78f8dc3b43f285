/**
 * ClientCertificate: the one object a handler sees for a verified client certificate — its
 * thumbprints, names, validity and SANs, read once from the DER and frozen.
 * @module
 */
import type { X509Certificate } from '@peculiar/x509'
import { toHex } from '../bytes.ts'
import { encodePem } from './pem.ts'
import { type CertificateFields, readCertificateFields } from './fields.ts'
import { parseSpiffeId } from './spiffe.ts'
import { loadPeculiarX509 } from './peculiar.ts'

/** The JSON form of a client certificate (what `/cert-info` returns). */
export interface ClientCertificateJson {
  thumbprint: string
  thumbprint_sha1: string
  common_name: string | null
  subject: string
  issuer: string
  serial_number: string
  not_before: string
  not_after: string
  dns_names: readonly string[]
  uris: readonly string[]
  emails: readonly string[]
  ips: readonly string[]
  spiffe_id: string | null
}

/** A client certificate, read from DER. Build one with {@link readClientCertificate}. */
export class ClientCertificate {
  /** SHA-256 of the DER, uppercase hex: the thumbprint to pin. */
  readonly thumbprint: string
  /** SHA-1 of the DER, uppercase hex: what Azure's portal and App Gateway display. Never pin it. */
  readonly thumbprintSha1: string
  /** Subject DN, RFC 4514 (as Envoy's XFCC `Subject`): most specific first. */
  readonly subject: string
  /** The subject's most specific CN, or null. */
  readonly commonName: string | null
  /** Issuer DN, RFC 4514. */
  readonly issuer: string
  /** Serial number, uppercase hex without a sign octet; a negative one is `-` and its magnitude (`-80`). */
  readonly serialNumber: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly dnsNames: readonly string[]
  readonly uris: readonly string[]
  readonly emails: readonly string[]
  readonly ips: readonly string[]
  /**
   * The SPIFFE ID when the certificate has exactly one URI SAN and it is a valid SPIFFE ID (no
   * percent-encoded, empty or dot segments), else null.
   */
  readonly spiffeId: string | null
  /** The certificate's DER bytes. */
  readonly der: Uint8Array
  /** Everything certgate read from the certificate, including extensions. */
  readonly fields: Readonly<CertificateFields>

  constructor(der: Uint8Array, fields: CertificateFields, thumbprint: string, thumbprintSha1: string) {
    this.der = der
    this.fields = fields
    this.thumbprint = thumbprint
    this.thumbprintSha1 = thumbprintSha1
    this.subject = fields.subject
    this.commonName = fields.commonName
    this.issuer = fields.issuer
    this.serialNumber = fields.serialNumber
    this.notBefore = fields.notBefore
    this.notAfter = fields.notAfter
    this.dnsNames = Object.freeze([...fields.dnsNames])
    this.uris = Object.freeze([...fields.uris])
    this.emails = Object.freeze([...fields.emails])
    this.ips = Object.freeze([...fields.ips])
    // SPIFFE X.509-SVIDs carry exactly one URI SAN; more than one makes the identity ambiguous.
    const only = fields.uris.length === 1 ? fields.uris[0]! : null
    this.spiffeId = only !== null && parseSpiffeId(only) !== null ? only : null
  }

  /** The certificate as PEM. */
  get pem(): string {
    return encodePem(this.der)
  }

  /**
   * The @peculiar/x509 object, for fields certgate does not read itself. Loaded on first use:
   * the library costs ~0.5 ms per parse, which the request path never pays. An optional peer:
   * rejects, naming the packages, unless @peculiar/x509 and reflect-metadata are installed.
   */
  async x509(): Promise<X509Certificate> {
    const { X509Certificate: Peculiar } = await loadPeculiarX509()
    return new Peculiar(this.der as Uint8Array<ArrayBuffer>)
  }

  /** The JSON form, built once: the certificate never changes, and /cert-info asks every time. */
  toJSON(): ClientCertificateJson {
    this.#json ??= Object.freeze({
      thumbprint: this.thumbprint,
      thumbprint_sha1: this.thumbprintSha1,
      common_name: this.commonName,
      subject: this.subject,
      issuer: this.issuer,
      serial_number: this.serialNumber,
      not_before: this.notBefore.toISOString(),
      not_after: this.notAfter.toISOString(),
      dns_names: this.dnsNames,
      uris: this.uris,
      emails: this.emails,
      ips: this.ips,
      spiffe_id: this.spiffeId,
    })
    return this.#json
  }

  #json: Readonly<ClientCertificateJson> | undefined
}

/**
 * Reads a certificate from DER; throws ERR_CERT_MALFORMED when it is not one. Pass the SHA-256
 * thumbprint when it is already known, so it is not computed twice.
 */
export async function readClientCertificate(
  der: Uint8Array,
  options: { thumbprint?: string } = {}
): Promise<ClientCertificate> {
  const fields = readCertificateFields(der)
  const [sha256, sha1] = await Promise.all([
    options.thumbprint ?? digestHex('SHA-256', der),
    digestHex('SHA-1', der),
  ])
  return new ClientCertificate(der, fields, sha256, sha1)
}

/** Uppercase hex digest of bytes, with WebCrypto. */
export async function digestHex(algorithm: 'SHA-256' | 'SHA-1', bytes: Uint8Array): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest(algorithm, bytes as Uint8Array<ArrayBuffer>)))
}
