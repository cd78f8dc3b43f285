// The observer hooks of the core (createClientCertVerifier, withClientCert): what onVerified and
// onRefused receive for a fresh, a cached and a refused request, that they have run when the
// verifier's promise resolves (synchronously on the returning-client path), that a hook which
// throws or rejects changes neither the status nor the body and leaves no unhandled rejection,
// and that a verifier without hooks never reads the clock for them.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import process from 'node:process'
import {
  CertgateError,
  createClientCertVerifier,
  type RefusedEvent,
  type VerifiedEvent,
  withClientCert,
} from '../src/index.ts'
import { createTestPki, type TestCertificate, xfccHeader } from '../src/testing/index.ts'
import { capturingConsoleError } from './support/console.ts'

const CN = 'api-client.contoso.com'
const allow = { allow: { commonNames: [CN] } }

function request(header?: string): Request {
  const headers: Record<string, string> = header === undefined ? {} : { 'x-forwarded-client-cert': header }
  return new Request('http://localhost/api', { headers })
}

/** The hooks' events, in order, and options that record them. */
function recorder(): {
  verified: VerifiedEvent[]
  refused: RefusedEvent[]
  hooks: { onVerified: (e: VerifiedEvent) => void; onRefused: (e: RefusedEvent) => void }
} {
  const verified: VerifiedEvent[] = []
  const refused: RefusedEvent[] = []
  return { verified, refused, hooks: { onVerified: (e) => verified.push(e), onRefused: (e) => refused.push(e) } }
}

let allowed: TestCertificate
let stranger: TestCertificate
let expired: TestCertificate
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => void unhandled.push(reason)

before(async () => {
  const pki = await createTestPki()
  allowed = await pki.issue({ commonName: CN })
  stranger = await pki.issue({ commonName: 'stranger.example' })
  expired = await pki.issue({ commonName: CN, notAfter: new Date(Date.now() - 60_000) })
  process.on('unhandledRejection', onUnhandled)
})
after(() => {
  process.off('unhandledRejection', onUnhandled)
})

describe('onVerified', () => {
  it('gets the certificate, the request, the thumbprint, cached (from the third sight) and a duration', async () => {
    const { verified, refused, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks })
    const requests = [1, 2, 3, 4].map(() => request(xfccHeader(allowed)))
    for (const [i, req] of requests.entries()) {
      const result = await verify(req)
      assert.equal(result.ok, true)
      // Run before the promise resolved: one event per request, right after the await.
      assert.equal(verified.length, i + 1)
    }
    // The cache admits a key on its second sight, so the third request is the first answered from it.
    assert.deepEqual(
      verified.map((e) => e.cached),
      [false, false, true, true]
    )
    for (const [i, event] of verified.entries()) {
      assert.equal(event.request, requests[i])
      assert.equal(event.thumbprint, allowed.thumbprint)
      assert.equal(event.certificate?.thumbprint, allowed.thumbprint)
      assert.equal(event.certificate?.commonName, CN)
      assert.ok(Number.isFinite(event.durationMs) && event.durationMs >= 0, `durationMs ${event.durationMs}`)
    }
    assert.deepEqual(refused, [])
  })

  it('on the returning-client path it has run before verify() returns its promise', async () => {
    const { verified, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks })
    const header = xfccHeader(allowed)
    await verify(request(header))
    await verify(request(header))
    const pending = verify(request(header))
    assert.equal(verified.length, 3)
    assert.equal(verified[2]!.cached, true)
    assert.equal((await pending).ok, true)
  })

  it('with authorize (never cached) still says whether the verdict came from the cache', async () => {
    const { verified, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks, authorize: () => true })
    for (let i = 0; i < 3; i++) assert.equal((await verify(request(xfccHeader(allowed)))).ok, true)
    assert.deepEqual(
      verified.map((e) => e.cached),
      [false, false, true]
    )
  })

  it('with the cache off, nothing is cached', async () => {
    const { verified, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks, cache: false })
    for (let i = 0; i < 3; i++) await verify(request(xfccHeader(allowed)))
    assert.deepEqual(
      verified.map((e) => e.cached),
      [false, false, false]
    )
  })

  it('in accept mode, a request without a certificate is verified with null', async () => {
    const { verified, refused, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks, mode: 'accept' })
    const req = request()
    assert.deepEqual(await verify(req), { ok: true, certificate: null })
    assert.equal(verified.length, 1)
    const { durationMs, ...rest } = verified[0]!
    assert.deepEqual(rest, { certificate: null, request: req, thumbprint: null, cached: false })
    assert.ok(durationMs >= 0)
    assert.deepEqual(refused, [])
  })
})

describe('onRefused', () => {
  it('an allowlist refusal carries the code and the thumbprint, fresh and from the cache', async () => {
    const { verified, refused, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks })
    const requests = [1, 2, 3, 4].map(() => request(xfccHeader(stranger)))
    for (const [i, req] of requests.entries()) {
      const result = await verify(req)
      assert.equal(result.ok ? 'ok' : result.error.code, 'ERR_CERT_NOT_ALLOWED')
      assert.equal(refused.length, i + 1)
      const event = refused[i]!
      assert.equal(event.request, req)
      assert.equal(event.error, result.ok ? undefined : result.error)
      assert.equal(event.error.code, 'ERR_CERT_NOT_ALLOWED')
      assert.equal(event.thumbprint, stranger.thumbprint)
      assert.ok(Number.isFinite(event.durationMs) && event.durationMs >= 0)
    }
    assert.deepEqual(verified, [])
  })

  it('a missing header: ERR_CERT_MISSING with a null thumbprint', async () => {
    const { refused, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks })
    const req = request()
    await verify(req)
    assert.equal(refused.length, 1)
    assert.equal(refused[0]!.error.code, 'ERR_CERT_MISSING')
    assert.equal(refused[0]!.thumbprint, null)
    assert.equal(refused[0]!.request, req)
  })

  it('a proxy that is not trusted: ERR_PROXY_UNTRUSTED with a null thumbprint', async () => {
    const { refused, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks, trustedProxies: ['10.0.0.0/8'] })
    await verify(request(xfccHeader(allowed)), { remoteAddress: '192.0.2.1' })
    assert.deepEqual(
      refused.map((e) => [e.error.code, e.thumbprint]),
      [['ERR_PROXY_UNTRUSTED', null]]
    )
  })

  it('an expired certificate: ERR_CERT_EXPIRED with its thumbprint, every time', async () => {
    const { refused, hooks } = recorder()
    const verify = createClientCertVerifier({ ...allow, ...hooks })
    for (let i = 0; i < 3; i++) await verify(request(xfccHeader(expired)))
    assert.deepEqual(
      refused.map((e) => [e.error.code, e.thumbprint]),
      Array(3).fill(['ERR_CERT_EXPIRED', expired.thumbprint])
    )
  })

  it('authorize saying no, and authorize throwing: the codes and the thumbprint', async () => {
    const { refused, hooks } = recorder()
    const no = createClientCertVerifier({ ...allow, ...hooks, authorize: () => false })
    const bug = new Error('bug')
    const broken = createClientCertVerifier({
      ...allow,
      ...hooks,
      authorize: () => {
        throw bug
      },
    })
    await no(request(xfccHeader(allowed)))
    await broken(request(xfccHeader(allowed)))
    assert.deepEqual(
      refused.map((e) => [e.error.code, e.error.status, e.thumbprint]),
      [
        ['ERR_CERT_NOT_ALLOWED', 403, allowed.thumbprint],
        ['ERR_AUTHORIZE_FAILED', 500, allowed.thumbprint],
      ]
    )
    assert.equal(refused[1]!.error.cause, bug)
  })
})

describe('a hook that fails', () => {
  const failures: Array<[string, Partial<Record<'onVerified' | 'onRefused', () => unknown>>]> = [
    [
      'throws',
      {
        onVerified: () => {
          throw new Error('onVerified threw')
        },
        onRefused: () => {
          throw new Error('onRefused threw')
        },
      },
    ],
    [
      'rejects',
      {
        onVerified: () => Promise.reject(new Error('onVerified rejected')),
        onRefused: async () => {
          throw new Error('onRefused rejected')
        },
      },
    ],
  ]

  for (const [how, hooks] of failures) {
    it(`that ${how} changes neither status nor body, is logged once per error, and leaks no rejection`, async () => {
      const handler = withClientCert((_req, cert) => Response.json({ cn: cert?.commonName ?? null }), {
        ...allow,
        ...(hooks as { onVerified: () => void; onRefused: () => void }),
      })
      const bodies: Array<[number, unknown]> = []
      const logged = await capturingConsoleError(async () => {
        for (const header of [xfccHeader(allowed), xfccHeader(stranger), undefined]) {
          const res = await handler(request(header))
          bodies.push([res.status, await res.json()])
        }
      })
      assert.deepEqual(bodies[0], [200, { cn: CN }])
      assert.equal(bodies[1]![0], 403)
      assert.equal((bodies[1]![1] as { code: string }).code, 'ERR_CERT_NOT_ALLOWED')
      assert.equal(bodies[2]![0], 403)
      assert.equal((bodies[2]![1] as { code: string }).code, 'ERR_CERT_MISSING')
      // One line per failure: the verified request's, then the two refusals'.
      const messages = logged.map((args) => (args[1] as Error).message)
      const verb = how === 'throws' ? 'threw' : 'rejected'
      assert.deepEqual(messages, [`onVerified ${verb}`, `onRefused ${verb}`, `onRefused ${verb}`])
      assert.deepEqual(unhandled, [])
    })
  }

  it('a throwing console.error does not make a rejecting hook an unhandled rejection', async () => {
    const verify = createClientCertVerifier({ ...allow, onVerified: () => Promise.reject(new Error('x')) })
    const original = console.error
    console.error = () => {
      throw new Error('console is broken')
    }
    try {
      assert.equal((await verify(request(xfccHeader(allowed)))).ok, true)
      await new Promise<void>((resolve) => setTimeout(resolve, 20))
    } finally {
      console.error = original
    }
    assert.deepEqual(unhandled, [])
  })

  it('a hook throwing a CertgateError does not turn the admission into a refusal', async () => {
    const verify = createClientCertVerifier({
      ...allow,
      onVerified: () => {
        throw new CertgateError('ERR_CERT_NOT_ALLOWED', 'no')
      },
    })
    const logged = await capturingConsoleError(async () => {
      const result = await verify(request(xfccHeader(allowed)))
      assert.equal(result.ok, true)
    })
    assert.equal(logged.length, 1)
  })
})

describe('hooks when absent, and bad hooks', () => {
  it('a verifier without hooks never reads performance.now()', async () => {
    const original = performance.now
    let reads = 0
    performance.now = function countedNow(this: Performance): number {
      reads++
      return original.call(this)
    }
    try {
      const plain = createClientCertVerifier(allow)
      for (const header of [xfccHeader(allowed), xfccHeader(allowed), xfccHeader(allowed), xfccHeader(stranger)]) {
        await plain(request(header))
      }
      await plain(request())
      assert.equal(reads, 0)
      const observed = createClientCertVerifier({ ...allow, onRefused: () => {} })
      await observed(request())
      assert.equal(reads, 2)
    } finally {
      performance.now = original
    }
  })

  it('a hook that is not a function is a TypeError at startup', () => {
    assert.throws(() => createClientCertVerifier({ ...allow, onVerified: 'log' as unknown as () => void }), {
      name: 'TypeError',
      message: 'onVerified must be a function.',
    })
    assert.throws(() => createClientCertVerifier({ ...allow, onRefused: {} as unknown as () => void }), {
      name: 'TypeError',
      message: 'onRefused must be a function.',
    })
  })
})
