/**
 * The certificate profile on a path, through the real verifier: the purpose (EKU) on the leaf
 * and on every CA, key identifiers, basicConstraints criticality, keyCertSign without the CA
 * bit, self-issued CAs and path length, validity in whole seconds, and a pinned self-signed leaf
 * held to the leaf rules. Each refusal asserts its status and code.
 * @module
 */
import 'reflect-metadata'
import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import * as x509 from '@peculiar/x509'
import { createClientCertVerifier, type ClientCertOptions } from '../src/index.ts'
import { createTrustVerifier, type TrustOptions, type TrustVerdict } from '../src/trust/verifier.ts'
import {
  ANY_EKU,
  buildCert,
  CLIENT_AUTH,
  type ProfileCert,
  requestWith,
  SERVER_AUTH,
  thumbprintOf,
} from './support/profile-pki.ts'

function verify(
  options: TrustOptions,
  leaf: ProfileCert,
  chain: ProfileCert[] = [],
  nowMs = Date.now()
): Promise<TrustVerdict> {
  return createTrustVerifier(options).verify(leaf.der, chain.map((c) => c.der), nowMs, 0)
}

async function refused(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: { code?: string; status?: number }) => {
    assert.equal(error.code, code)
    assert.equal(error.status, 403)
    return true
  })
}

/** The verdict of a whole request: ok, or the problem's status and code. */
async function answer(options: ClientCertOptions, leaf: ProfileCert, chain: ProfileCert[] = []): Promise<string> {
  const result = await createClientCertVerifier({ cache: false, ...options })(await requestWith(leaf, chain))
  return result.ok ? 'ok' : `${result.error.status} ${result.error.code}`
}

describe('trust profile: purpose', () => {
  let root: ProfileCert

  before(async () => {
    root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
  })

  for (const critical of [false, true]) {
    it(`a CA whose EKU (${critical ? 'critical' : 'not critical'}) lacks clientAuth → ERR_CHAIN_INVALID`, async () => {
      const ica = await buildCert({
        subject: 'CN=server-only ica',
        ca: true,
        issuer: root,
        extendedKeyUsages: [SERVER_AUTH],
        ekuCritical: critical,
      })
      const leaf = await buildCert({ subject: 'CN=client', issuer: ica })
      await refused(verify({ roots: [root.pem] }, leaf, [ica]), 'ERR_CHAIN_INVALID')
    })
  }

  it('a root whose EKU lacks clientAuth → ERR_CHAIN_INVALID, even with requireClientAuthEku false', async () => {
    const serverRoot = await buildCert({ subject: 'CN=server root', ca: true, aki: 'none', extendedKeyUsages: [SERVER_AUTH] })
    const leaf = await buildCert({ subject: 'CN=client', issuer: serverRoot })
    await refused(verify({ roots: [serverRoot.pem] }, leaf), 'ERR_CHAIN_INVALID')
    await refused(verify({ roots: [serverRoot.pem], requireClientAuthEku: false }, leaf), 'ERR_CHAIN_INVALID')
  })

  it('a CA whose EKU lists clientAuth or anyExtendedKeyUsage → ok', async () => {
    for (const ekus of [[CLIENT_AUTH], [ANY_EKU], [SERVER_AUTH, CLIENT_AUTH]]) {
      const ica = await buildCert({ subject: 'CN=ica', ca: true, issuer: root, extendedKeyUsages: ekus })
      const leaf = await buildCert({ subject: 'CN=client', issuer: ica })
      assert.equal((await verify({ roots: [root.pem] }, leaf, [ica])).path.length, 3, ekus.join())
    }
  })

  it("purpose 'serverAuth': a serverAuth leaf → ok, a clientAuth one → ERR_CERT_USAGE, a clientAuth-only CA → ERR_CHAIN_INVALID", async () => {
    const server = await buildCert({ subject: 'CN=server', issuer: root, extendedKeyUsages: [SERVER_AUTH] })
    const client = await buildCert({ subject: 'CN=client', issuer: root })
    const options: TrustOptions = { roots: [root.pem], purpose: 'serverAuth' }
    assert.equal((await verify(options, server)).path.length, 2)
    await refused(verify(options, client), 'ERR_CERT_USAGE')
    const clientIca = await buildCert({ subject: 'CN=client ica', ca: true, issuer: root, extendedKeyUsages: [CLIENT_AUTH] })
    const below = await buildCert({ subject: 'CN=server', issuer: clientIca, extendedKeyUsages: [SERVER_AUTH] })
    await refused(verify(options, below, [clientIca]), 'ERR_CHAIN_INVALID')
    // The request pipeline's certificate-use rule follows the same purpose.
    const trust = createTrustVerifier({ roots: [root.pem], purpose: 'serverAuth' })
    assert.equal(await answer({ allow: 'any-valid', trust }, server), 'ok')
    assert.equal(await answer({ allow: 'any-valid', trust }, client), '403 ERR_CERT_USAGE')
    assert.throws(() => createTrustVerifier({ roots: [root.pem], purpose: 'any' } as unknown as TrustOptions), /trust\.purpose/)
  })
})

describe('trust profile: key identifiers, basicConstraints, keyCertSign', () => {
  let root: ProfileCert

  before(async () => {
    root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
  })

  it('a critical AKI, on the leaf or on a CA → ERR_CHAIN_INVALID', async () => {
    const leaf = await buildCert({ subject: 'CN=client', issuer: root, aki: 'critical' })
    await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CHAIN_INVALID')
    const ica = await buildCert({ subject: 'CN=ica', ca: true, issuer: root, aki: 'critical' })
    const below = await buildCert({ subject: 'CN=client', issuer: ica })
    await refused(verify({ roots: [root.pem] }, below, [ica]), 'ERR_CHAIN_INVALID')
    const criticalRoot = await buildCert({ subject: 'CN=root', ca: true, aki: 'critical' })
    const under = await buildCert({ subject: 'CN=client', issuer: criticalRoot })
    await refused(verify({ roots: [criticalRoot.pem] }, under), 'ERR_CHAIN_INVALID')
  })

  it('no AKI on the leaf or an intermediate → ERR_CHAIN_INVALID; none on a self-signed root → ok', async () => {
    const leaf = await buildCert({ subject: 'CN=client', issuer: root, aki: 'none' })
    await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CHAIN_INVALID')
    const ica = await buildCert({ subject: 'CN=ica', ca: true, issuer: root, aki: 'none' })
    const below = await buildCert({ subject: 'CN=client', issuer: ica })
    await refused(verify({ roots: [root.pem] }, below, [ica]), 'ERR_CHAIN_INVALID')
    const fine = await buildCert({ subject: 'CN=client', issuer: root })
    assert.equal((await verify({ roots: [root.pem] }, fine)).path.length, 2)
  })

  it('an AKI without its key identifier (serial number only), even on a root → ERR_CHAIN_INVALID', async () => {
    const serialOnly = new x509.Extension('2.5.29.35', false, new Uint8Array([0x30, 0x03, 0x82, 0x01, 0x01]))
    const leaf = await buildCert({ subject: 'CN=client', issuer: root, aki: 'none', extra: [serialOnly] })
    await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CHAIN_INVALID')
    const oddRoot = await buildCert({ subject: 'CN=odd root', ca: true, aki: 'none', extra: [serialOnly] })
    const under = await buildCert({ subject: 'CN=client', issuer: oddRoot })
    await refused(verify({ roots: [oddRoot.pem] }, under), 'ERR_CHAIN_INVALID')
  })

  it('a serial number over 20 octets (the sign octet counted) below the anchor → ERR_CHAIN_INVALID', async () => {
    // (A zero serial, which the generator will not write, is x509-limbo's rfc5280::serial::zero.)
    for (const serialNumber of [`01${'00'.repeat(20)}`, `80${'00'.repeat(19)}`]) {
      const leaf = await buildCert({ subject: 'CN=client', issuer: root, serialNumber })
      await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CHAIN_INVALID')
    }
    const longest = await buildCert({ subject: 'CN=client', issuer: root, serialNumber: `7f${'00'.repeat(19)}` })
    assert.equal((await verify({ roots: [root.pem] }, longest)).path.length, 2)
  })

  it('a trust anchor signed by another CA and without AKI → ERR_CHAIN_INVALID', async () => {
    const anchor = await buildCert({ subject: 'CN=cross-signed', ca: true, issuer: root, aki: 'none' })
    const leaf = await buildCert({ subject: 'CN=client', issuer: anchor })
    await refused(verify({ roots: [anchor.pem] }, leaf), 'ERR_CHAIN_INVALID')
    const withAki = await buildCert({ subject: 'CN=cross-signed', ca: true, issuer: root })
    const under = await buildCert({ subject: 'CN=client', issuer: withAki })
    assert.equal((await verify({ roots: [withAki.pem] }, under)).path.length, 2)
  })

  it('a CA without SKI, or with basicConstraints not critical → ERR_CHAIN_INVALID', async () => {
    const noSki = await buildCert({ subject: 'CN=ica', ca: true, issuer: root, ski: false })
    const leaf = await buildCert({ subject: 'CN=client', issuer: noSki })
    await refused(verify({ roots: [root.pem] }, leaf, [noSki]), 'ERR_CHAIN_INVALID')
    const softRoot = await buildCert({ subject: 'CN=soft root', ca: { critical: false }, aki: 'none' })
    const under = await buildCert({ subject: 'CN=client', issuer: softRoot })
    await refused(verify({ roots: [softRoot.pem] }, under), 'ERR_CHAIN_INVALID')
  })

  it('a leaf with keyCertSign but no CA bit → ERR_CERT_USAGE', async () => {
    const leaf = await buildCert({ subject: 'CN=client', issuer: root, keyUsages: 1 | 32 })
    await refused(verify({ roots: [root.pem] }, leaf), 'ERR_CERT_USAGE')
  })

  it('a non-critical policyConstraints on a CA (it must be critical) → ERR_CHAIN_INVALID', async () => {
    const ica = await buildCert({
      subject: 'CN=ica',
      ca: true,
      issuer: root,
      extra: [new x509.Extension('2.5.29.36', false, new Uint8Array([0x30, 0x03, 0x80, 0x01, 0x00]))],
    })
    const leaf = await buildCert({ subject: 'CN=client', issuer: ica })
    await refused(verify({ roots: [root.pem] }, leaf, [ica]), 'ERR_CHAIN_INVALID')
  })
})

describe('trust profile: self-issued CAs', () => {
  it('a self-issued intermediate does not count against pathLenConstraint or maxDepth', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    // root → ICA (pathlen 1) → ICA re-keyed, self-issued (pathlen 1) → ICA2 (pathlen 0) → leaf
    const ica = await buildCert({ subject: 'CN=ica', ca: { pathLength: 1 }, issuer: root })
    const rekeyed = await buildCert({ subject: 'CN=ica', ca: { pathLength: 1 }, issuer: ica })
    const ica2 = await buildCert({ subject: 'CN=ica2', ca: { pathLength: 0 }, issuer: rekeyed })
    const leaf = await buildCert({ subject: 'CN=client', issuer: ica2 })
    const chain = [ica2, rekeyed, ica]
    assert.equal((await verify({ roots: [root.pem] }, leaf, chain)).path.length, 5)
    // Three CAs above the leaf count (ICA2, ICA, root); the self-issued one does not.
    assert.equal((await verify({ roots: [root.pem], maxDepth: 3 }, leaf, chain)).path.length, 5)
    await refused(verify({ roots: [root.pem], maxDepth: 2 }, leaf, chain), 'ERR_CHAIN_INVALID')
  })

  it('a CA that is not self-issued still counts: pathlen 0 above another CA → ERR_CHAIN_INVALID', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
    const ica = await buildCert({ subject: 'CN=ica', ca: { pathLength: 0 }, issuer: root })
    const ica2 = await buildCert({ subject: 'CN=ica2', ca: true, issuer: ica })
    const leaf = await buildCert({ subject: 'CN=client', issuer: ica2 })
    await refused(verify({ roots: [root.pem] }, leaf, [ica2, ica]), 'ERR_CHAIN_INVALID')
  })
})

describe('trust profile: validity in whole seconds', () => {
  // Certificates encode whole seconds; a clock reading inside the last second is still in it.
  const T = Date.UTC(2030, 0, 1, 0, 0, 0)

  it('a CA or leaf whose notAfter is T: valid through T + 999 ms, expired at T + 1 s', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none', notBefore: new Date(T - 86_400_000), notAfter: new Date(T + 86_400_000) })
    const ica = await buildCert({ subject: 'CN=ica', ca: true, issuer: root, notBefore: new Date(T - 86_400_000), notAfter: new Date(T) })
    const leaf = await buildCert({ subject: 'CN=client', issuer: ica, notBefore: new Date(T - 86_400_000), notAfter: new Date(T + 86_400_000) })
    assert.equal((await verify({ roots: [root.pem] }, leaf, [ica], T + 999)).path.length, 3)
    await refused(verify({ roots: [root.pem] }, leaf, [ica], T + 1000), 'ERR_CERT_EXPIRED')

    const own = await buildCert({ subject: 'CN=client', issuer: root, notBefore: new Date(T - 86_400_000), notAfter: new Date(T) })
    const at = (ms: number): ClientCertOptions => ({
      allow: 'any-valid',
      trust: createTrustVerifier({ roots: [root.pem] }),
      now: () => ms,
    })
    assert.equal(await answer(at(T + 999), own), 'ok')
    assert.equal(await answer(at(T + 1000), own), '403 ERR_CERT_EXPIRED')
  })

  it('notBefore T: not yet valid at T − 1 ms, valid at T exactly', async () => {
    const root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none', notBefore: new Date(T - 86_400_000), notAfter: new Date(T + 86_400_000) })
    const ica = await buildCert({ subject: 'CN=ica', ca: true, issuer: root, notBefore: new Date(T), notAfter: new Date(T + 86_400_000) })
    const leaf = await buildCert({ subject: 'CN=client', issuer: ica, notBefore: new Date(T - 86_400_000), notAfter: new Date(T + 86_400_000) })
    await refused(verify({ roots: [root.pem] }, leaf, [ica], T - 1), 'ERR_CERT_NOT_YET_VALID')
    assert.equal((await verify({ roots: [root.pem] }, leaf, [ica], T)).path.length, 3)
  })
})

describe('trust profile: a pinned self-signed leaf meets the leaf rules', () => {
  let root: ProfileCert

  before(async () => {
    root = await buildCert({ subject: 'CN=root', ca: true, aki: 'none' })
  })

  async function pinned(self: ProfileCert, extra: Partial<ClientCertOptions> = {}): Promise<string> {
    const trust = createTrustVerifier({ roots: [root.pem] })
    return answer({ allow: { thumbprints: [await thumbprintOf(self)] }, trust, ...extra }, self)
  }

  it('pinned, self-signed, CA:TRUE, with trust → 403 ERR_CERT_USAGE', async () => {
    const self = await buildCert({ subject: 'CN=self ca', ca: true, aki: 'none', extendedKeyUsages: [CLIENT_AUTH] })
    assert.equal(await pinned(self), '403 ERR_CERT_USAGE')
    assert.equal(await pinned(self, { allowAnyCertificateUse: true } as Partial<ClientCertOptions>), '403 ERR_CERT_USAGE')
  })

  it('pinned, self-signed, serverAuth only, with trust → 403 ERR_CERT_USAGE', async () => {
    const self = await buildCert({ subject: 'CN=self server', aki: 'none', extendedKeyUsages: [SERVER_AUTH] })
    assert.equal(await pinned(self, { allowAnyCertificateUse: true } as Partial<ClientCertOptions>), '403 ERR_CERT_USAGE')
  })

  it('pinned, self-signed, a plain client certificate → ok; not pinned → ERR_CERT_UNTRUSTED', async () => {
    const self = await buildCert({ subject: 'CN=self client', aki: 'none' })
    assert.equal(await pinned(self), 'ok')
    const trust = createTrustVerifier({ roots: [root.pem] })
    assert.equal(await answer({ allow: 'any-valid', trust }, self), '403 ERR_CERT_UNTRUSTED')
  })
})
