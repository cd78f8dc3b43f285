/**
 * XFCC element injection through a client's own SAN: Envoy copies URI and DNS SANs into the
 * header raw, so a SAN holding `,Hash=…;Cert="…"` ends Envoy's element and appends one the
 * client wrote. These builders make the attacker's certificate and the header exactly as Envoy
 * would write it for that certificate.
 * @module
 */
import { encodeXfccPem } from '../../src/xfcc/format.ts'
import { type TestCertificate, type TestPki, xfccHeader } from '../../src/testing/index.ts'

/** Which SAN carries the injected element. */
export type InjectionSan = 'uri' | 'dns'

/**
 * The text that, written raw after `URI=` or `DNS=`, closes Envoy's element and opens one naming
 * `victim`: its real Hash, its real PEM and chain URL-encoded as Envoy encodes them. No key is
 * needed: the victim's certificate is public.
 */
export function injectedElement(victim: TestCertificate): string {
  const chain = victim.issuer === null ? victim.pem : victim.pem + victim.issuer.pem
  return (
    `,Hash=${victim.thumbprint.toLowerCase()}` +
    `;Cert="${encodeXfccPem(victim.pem)}"` +
    `;Chain="${encodeXfccPem(chain)}"`
  )
}

/** A certificate the ingress accepts (issued by the same CA), whose SAN carries the injection. */
export function issueInjector(pki: TestPki, victim: TestCertificate, san: InjectionSan): Promise<TestCertificate> {
  const payload = injectedElement(victim)
  return san === 'uri'
    ? pki.issue({ commonName: 'attacker.contoso.com', uris: [`spiffe://contoso.com/attacker${payload}`] })
    : pki.issue({ commonName: 'attacker.contoso.com', dnsNames: [`attacker.contoso.com${payload}`] })
}

/** The header Envoy writes for the attacker's connection: every detail on, SANs raw. */
export function envoyHeaderFor(attacker: TestCertificate): string {
  return xfccHeader(attacker, { by: ['spiffe://contoso.com/ingress'], rawSans: true })
}
