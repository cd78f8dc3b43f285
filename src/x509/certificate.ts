/**
 * ClientCertificate: the one object a handler sees for a verified client certificate — its
 * thumbprints, names, validity and SANs, read once from the DER and frozen. A returning client's
 * requests all get the same object from the verdict cache, so nothing a handler does to it may
 * reach the next request: it is frozen deeply, and what cannot be frozen (dates, bytes) is handed
 * out as a fresh copy on each read.
 * @module
 */
import type { X509Certificate } from '@peculiar/x509'
import { encodePem } from './pem.ts'
import { digestHex, sha1DisplayHex } from './digest.ts'
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
  /** Subject DN, RFC 4514 (as Envoy's XFCC `Subject`): most specific first. */
  readonly subject: string
  /** The subject's most specific CN, or null. */
  readonly commonName: string | null
  /** Issuer DN, RFC 4514. */
  readonly issuer: string
  /** Serial number, uppercase hex without a sign octet; a negative one is `-` and its magnitude (`-80`). */
  readonly serialNumber: string
  readonly dnsNames: readonly string[]
  readonly uris: readonly string[]
  readonly emails: readonly string[]
  readonly ips: readonly string[]
  /**
   * The SPIFFE ID when the certificate has exactly one URI SAN and it is a valid SPIFFE ID (no
   * percent-encoded, empty or dot segments), else null.
   */
  readonly spiffeId: string | null
  /**
   * Everything certgate read from the certificate, including extensions. Frozen, arrays and
   * basicConstraints included; its `notBefore` and `notAfter` are fresh Dates on each read.
   */
  readonly fields: Readonly<CertificateFields>
  readonly #der: Uint8Array
  /** Computed on first read: most requests never ask for it (see {@link thumbprintSha1}). */
  #sha1: string | undefined

  /** `thumbprintSha1` is computed when first read unless given here. */
  constructor(der: Uint8Array, fields: CertificateFields, thumbprint: string, thumbprintSha1?: string) {
    // Its own copy: a caller that reuses or changes its buffer cannot change this certificate.
    this.#der = der.slice()
    this.fields = new FrozenFields(fields)
    this.thumbprint = thumbprint
    this.#sha1 = thumbprintSha1
    this.subject = fields.subject
    this.commonName = fields.commonName
    this.issuer = fields.issuer
    this.serialNumber = fields.serialNumber
    this.dnsNames = this.fields.dnsNames
    this.uris = this.fields.uris
    this.emails = this.fields.emails
    this.ips = this.fields.ips
    // SPIFFE X.509-SVIDs carry exactly one URI SAN; more than one makes the identity ambiguous.
    const only = fields.uris.length === 1 ? fields.uris[0]! : null
    this.spiffeId = only !== null && parseSpiffeId(only) !== null ? only : null
    Object.freeze(this)
  }

  /**
   * SHA-1 of the DER, uppercase hex: what Azure's portal and App Gateway display. Never pin it.
   * Computed on first read and kept (a getter, not an own property, for that reason).
   */
  get thumbprintSha1(): string {
    this.#sha1 ??= sha1DisplayHex(this.#der)
    return this.#sha1
  }

  /** Start of validity: a new Date on each read, so changing it changes nothing else. */
  get notBefore(): Date {
    return this.fields.notBefore
  }

  /** End of validity: a new Date on each read, so changing it changes nothing else. */
  get notAfter(): Date {
    return this.fields.notAfter
  }

  /** The certificate's DER bytes: a new copy on each read (bytes cannot be frozen). */
  get der(): Uint8Array {
    return this.#der.slice()
  }

  /** The certificate as PEM. */
  get pem(): string {
    return encodePem(this.#der)
  }

  /**
   * The @peculiar/x509 object, for fields certgate does not read itself. Loaded on first use:
   * the library costs ~0.5 ms per parse, which the request path never pays. An optional peer:
   * rejects, naming the packages, unless @peculiar/x509 and reflect-metadata are installed.
   */
  async x509(): Promise<X509Certificate> {
    const { X509Certificate: Peculiar } = await loadPeculiarX509()
    return new Peculiar(this.#der.slice())
  }

  /**
   * The JSON form: a new plain object on each call, so nothing shared can be changed through it
   * and nothing needs freezing (freezing it, and a cached frozen object, cost more to build and
   * to serialise on V8 and JSC than a fresh literal). Its dates' text is made once.
   */
  toJSON(): ClientCertificateJson {
    this.#notBeforeIso ??= this.notBefore.toISOString()
    this.#notAfterIso ??= this.notAfter.toISOString()
    return {
      thumbprint: this.thumbprint,
      thumbprint_sha1: this.thumbprintSha1,
      common_name: this.commonName,
      subject: this.subject,
      issuer: this.issuer,
      serial_number: this.serialNumber,
      not_before: this.#notBeforeIso,
      not_after: this.#notAfterIso,
      dns_names: this.dnsNames,
      uris: this.uris,
      emails: this.emails,
      ips: this.ips,
      spiffe_id: this.spiffeId,
    }
  }

  #notBeforeIso: string | undefined
  #notAfterIso: string | undefined
}

/**
 * The fields as a handler sees them, deeply frozen: arrays and basicConstraints are frozen
 * copies, and the two dates (which freezing cannot protect) are getters returning a new Date on
 * each read. A class rather than an object literal with accessors, which V8 builds ~40× slower;
 * `implements` makes a field added to CertificateFields fail to compile here until it is copied.
 */
class FrozenFields implements CertificateFields {
  readonly serialNumber: string
  readonly subject: string
  readonly issuer: string
  readonly commonName: string | null
  readonly dnsNames: string[]
  readonly uris: string[]
  readonly emails: string[]
  readonly ips: string[]
  readonly extendedKeyUsages: string[] | null
  readonly keyUsage: number | null
  readonly basicConstraints: { ca: boolean; pathLength: number | null } | null
  readonly subjectKeyIdentifier: string | null
  readonly authorityKeyIdentifier: string | null
  readonly #notBeforeMs: number
  readonly #notAfterMs: number

  constructor(fields: CertificateFields) {
    this.serialNumber = fields.serialNumber
    this.subject = fields.subject
    this.issuer = fields.issuer
    this.commonName = fields.commonName
    this.#notBeforeMs = fields.notBefore.getTime()
    this.#notAfterMs = fields.notAfter.getTime()
    this.dnsNames = frozenList(fields.dnsNames)
    this.uris = frozenList(fields.uris)
    this.emails = frozenList(fields.emails)
    this.ips = frozenList(fields.ips)
    const { basicConstraints, extendedKeyUsages } = fields
    this.extendedKeyUsages = extendedKeyUsages === null ? null : frozenList(extendedKeyUsages)
    this.keyUsage = fields.keyUsage
    this.basicConstraints = basicConstraints === null ? null : Object.freeze({ ...basicConstraints })
    this.subjectKeyIdentifier = fields.subjectKeyIdentifier
    this.authorityKeyIdentifier = fields.authorityKeyIdentifier
    Object.freeze(this)
  }

  get notBefore(): Date {
    return new Date(this.#notBeforeMs)
  }

  get notAfter(): Date {
    return new Date(this.#notAfterMs)
  }

  /** The same JSON as the plain fields object gives, the dates in their place as ISO strings. */
  toJSON(): CertificateFields {
    const { serialNumber, subject, issuer, commonName, ...rest } = this
    return { serialNumber, subject, issuer, commonName, notBefore: this.notBefore, notAfter: this.notAfter, ...rest }
  }
}

/** A frozen copy of a list, typed as the mutable list CertificateFields declares. */
function frozenList(list: readonly string[]): string[] {
  return Object.freeze(list.slice()) as string[]
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
  const sha256 = options.thumbprint ?? (await digestHex('SHA-256', der))
  return new ClientCertificate(der, fields, sha256)
}

export { digestHex }
