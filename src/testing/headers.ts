/**
 * `X-Forwarded-Client-Cert` headers for test certificates, shaped exactly as Envoy, or the Azure
 * Container Apps ingress, would send them.
 * @module
 */
// Before @peculiar/x509 loads: see pki.ts.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { encodeXfccPem, formatXfcc } from '../xfcc/format.ts'
import type { TestCertificate } from './pki.ts'

/** How {@link xfccHeader} writes the header. */
export interface XfccHeaderOptions {
  /**
   * The `Chain` value. `true` (default): the leaf, then its issuers up to but not including the
   * self-signed root, as a client sends them and Envoy forwards them (Envoy's Chain includes the
   * leaf). An array: exactly these certificates, in order. `false`: no `Chain`.
   */
  chain?: TestCertificate[] | boolean
  /** Default: the real SHA-256 of the DER, lowercase hex. A string replaces it; `false`: none. */
  hash?: string | false
  /** `By` values: the URI SANs of the proxy's own certificate. Default none. */
  by?: string[]
  /** Default: {@link TestCertificate.subjectRfc4514}. A string replaces it; `false` omits it. */
  subject?: string | false
  /** Default `'auto'`: the URI SANs, or a bare `URI=` if there are none (as Envoy). `[]`: none. */
  uris?: string[] | 'auto'
  /** Default `'auto'`: the DNS SANs. */
  dns?: string[] | 'auto'
  /**
   * Write URI and DNS values raw, never quoted or escaped, exactly as Envoy does: a SAN holding
   * `,` `;` or `"` then breaks the header as it would in production (how a SAN injection is
   * tested). Default false: such values are quoted, as a careful proxy would.
   */
  rawSans?: boolean
  /** Raw XFCC text a client or an earlier proxy sent; it is put to the left, joined with `,`. */
  before?: string
  /**
   * `'envoy'` (default): By;Hash;Cert;Chain;Subject;URI;DNS, as Envoy writes with every detail
   * enabled. `'aca'`: `Hash=…;Cert="…";Chain="…";`, as Azure Container Apps shows its header
   * (by, subject, uris and dns are ignored).
   */
  style?: 'envoy' | 'aca'
}

/**
 * The `X-Forwarded-Client-Cert` value a TLS-terminating Envoy would set for a client that
 * presented `cert`. Synchronous: the hash is the precomputed thumbprint.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { clientCert, type ClientCertEnv } from 'certgate/hono'
 * import { createTestPki, xfccHeader } from 'certgate/testing'
 *
 * const pki = await createTestPki()
 * const client = await pki.issue({ commonName: 'api-client.contoso.com' })
 *
 * const app = new Hono<ClientCertEnv>()
 * app.use('/api/*', clientCert({ allow: { commonNames: ['api-client.contoso.com'] } }))
 * app.get('/api/whoami', (c) => c.text(c.var.clientCert.commonName ?? ''))
 *
 * const res = await app.request(
 *   new Request('http://localhost/api/whoami', {
 *     headers: { 'x-forwarded-client-cert': xfccHeader(client) },
 *   })
 * )
 * // res.status === 200, await res.text() === 'api-client.contoso.com'
 *
 * // Spoofing attempts and edge cases:
 * xfccHeader(client, { hash: '00'.repeat(32) }) // Hash does not match Cert
 * xfccHeader(client, { before: 'Hash=abcd;Subject="CN=admin"' }) // client-sent element, left
 * xfccHeader(client, { style: 'aca' }) // Hash=…;Cert="…";Chain="…";
 * ```
 */
export function xfccHeader(cert: TestCertificate, options: XfccHeaderOptions = {}): string {
  const { chain = true, by = [], style = 'envoy', before } = options
  const hash = options.hash === undefined ? cert.thumbprint.toLowerCase() : options.hash
  const chainPem = chainPemOf(cert, chain)
  let element: string
  if (style === 'aca') {
    element =
      (hash === false ? '' : `Hash=${hash};`) +
      `Cert="${encodeXfccPem(cert.pem)}";` +
      (chainPem === undefined ? '' : `Chain="${encodeXfccPem(chainPem)}";`)
  } else {
    const subject = options.subject === undefined ? cert.subjectRfc4514 : options.subject
    const uris = options.uris ?? 'auto'
    const dns = options.dns ?? 'auto'
    const uriValues = uris === 'auto' ? sanValues(cert, 'url') : uris
    const dnsValues = dns === 'auto' ? sanValues(cert, 'dns') : dns
    const pairs = [
      formatXfcc([
        { by, hash: hash === false ? undefined : hash, cert: cert.pem, chain: chainPem, uri: [], dns: [] },
      ]),
    ]
    // Envoy inserts the subject raw, without XFCC escaping (its RFC 2253 `\,` escapes stay as
    // they are), and writes a bare `URI=` for a certificate without URI SANs.
    if (subject !== false) pairs.push(`Subject="${subject}"`)
    if (uris === 'auto' && uriValues.length === 0) pairs.push('URI=')
    if (options.rawSans === true) {
      for (const uri of uriValues) pairs.push(`URI=${uri}`)
      for (const name of dnsValues) pairs.push(`DNS=${name}`)
    } else if (uriValues.length > 0 || dnsValues.length > 0) {
      pairs.push(formatXfcc([{ by: [], uri: uriValues, dns: dnsValues }]))
    }
    element = pairs.join(';')
  }
  return before === undefined ? element : `${before},${element}`
}

function chainPemOf(cert: TestCertificate, chain: TestCertificate[] | boolean): string | undefined {
  if (chain === false) return undefined
  if (chain !== true) return chain.map((c) => c.pem).join('')
  const certs = [cert]
  // Clients send their intermediates but not the root; a self-signed cert sends only itself.
  for (let next = cert.issuer; next?.issuer; next = next.issuer) certs.push(next)
  return certs.map((c) => c.pem).join('')
}

function sanValues(cert: TestCertificate, type: 'url' | 'dns'): string[] {
  const san = cert.x509.getExtension(x509.SubjectAlternativeNameExtension)
  return (san?.names.items ?? []).filter((n) => n.type === type).map((n) => n.value)
}
