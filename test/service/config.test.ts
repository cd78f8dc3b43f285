/**
 * Tests for the service configuration: defaults, each variable's good and bad values, and a
 * message that names every bad variable at once.
 * @module
 */

import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, parseServiceConfig } from '../../src/service/config.ts'
import type { ServiceConfig } from '../../src/service/config.ts'

const HEX64 = 'ab'.repeat(32)
const HEX64_UPPER = HEX64.toUpperCase()

/** The ConfigError that parsing `env` throws. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseServiceConfig(env)
  } catch (error) {
    assert.ok(error instanceof ConfigError, 'expected a ConfigError')
    return error
  }
  assert.fail('expected parseServiceConfig to throw')
}

/** Asserts `env` is refused with exactly one issue, about `variable`, matching `why`. */
function assertRefused(
  env: Record<string, string | undefined>,
  variable: string,
  why?: RegExp
): void {
  const error = configError(env)
  assert.equal(error.issues.length, 1, error.message)
  assert.ok(error.issues[0]!.startsWith(`${variable}: `), error.issues[0])
  if (why) assert.match(error.issues[0]!, why)
  assert.ok(error.message.includes(error.issues[0]!))
}

describe('parseServiceConfig', () => {
  it('applies every default to an empty environment', () => {
    const expected: ServiceConfig = {
      port: 8000,
      allowedThumbprints: [],
      allowedCommonNames: ['api-client.contoso.com'],
      directBackendUrl: 'http://ca-backend',
      daprHttpPort: 3500,
      daprTargetAppId: 'backend',
      daprApiToken: null,
      outboundTimeoutMs: 5000,
      clientCertMode: 'require',
    }
    assert.deepEqual(parseServiceConfig({}), expected)
  })

  it('treats a variable set to undefined as unset and ignores unknown variables', () => {
    const config = parseServiceConfig({ PORT: undefined, PATH: '/usr/bin', HOME: '', FOO: 'x' })
    assert.equal(config.port, 8000)
    assert.equal(Object.keys(config).length, 9)
  })

  it('reads every variable when set', () => {
    const config = parseServiceConfig({
      PORT: '8443',
      ALLOWED_CERT_THUMBPRINTS: HEX64,
      ALLOWED_CERT_COMMON_NAMES: 'a.example, b.example',
      DIRECT_BACKEND_URL: 'https://backend.internal:8443/api',
      DAPR_HTTP_PORT: '3501',
      DAPR_TARGET_APP_ID: 'my_app-2.v1',
      DAPR_API_TOKEN: 's3cr3t-token',
      OUTBOUND_TIMEOUT_MS: '250',
      CLIENT_CERT_MODE: 'accept',
    })
    assert.deepEqual(config, {
      port: 8443,
      allowedThumbprints: [HEX64_UPPER],
      allowedCommonNames: ['a.example', 'b.example'],
      directBackendUrl: 'https://backend.internal:8443/api',
      daprHttpPort: 3501,
      daprTargetAppId: 'my_app-2.v1',
      daprApiToken: 's3cr3t-token',
      outboundTimeoutMs: 250,
      clientCertMode: 'accept',
    })
  })

  describe('ports', () => {
    for (const variable of ['PORT', 'DAPR_HTTP_PORT'] as const) {
      const field = variable === 'PORT' ? 'port' : 'daprHttpPort'
      it(`${variable} accepts 1 and 65535`, () => {
        assert.equal(parseServiceConfig({ [variable]: '1' })[field], 1)
        assert.equal(parseServiceConfig({ [variable]: '65535' })[field], 65535)
      })
      const bad = ['', '0', '65536', '0x10', '1e3', ' 80', '80 ', '-1', '+80', '8.5', 'eighty']
      for (const value of bad) {
        it(`${variable} refuses ${JSON.stringify(value)}`, () => {
          const why = value === '' ? /must not be empty/ : /1 to 65535/
          assertRefused({ [variable]: value }, variable, why)
        })
      }
    }
  })

  describe('OUTBOUND_TIMEOUT_MS', () => {
    it('accepts 1 and 600000', () => {
      assert.equal(parseServiceConfig({ OUTBOUND_TIMEOUT_MS: '1' }).outboundTimeoutMs, 1)
      assert.equal(parseServiceConfig({ OUTBOUND_TIMEOUT_MS: '600000' }).outboundTimeoutMs, 600000)
    })
    for (const bad of ['', '0', '600001', '1e3', '5s', '-5', '2.5']) {
      it(`refuses ${JSON.stringify(bad)}`, () => {
        assertRefused({ OUTBOUND_TIMEOUT_MS: bad }, 'OUTBOUND_TIMEOUT_MS')
      })
    }
  })

  describe('ALLOWED_CERT_THUMBPRINTS', () => {
    it('normalises case, colons, spaces and a sha256: prefix to uppercase hex', () => {
      const colons = HEX64.match(/../g)!.join(':')
      const spaces = HEX64_UPPER.match(/../g)!.join(' ')
      const other = 'cd'.repeat(32)
      const config = parseServiceConfig({
        ALLOWED_CERT_THUMBPRINTS: `sha256:${colons}, SHA256:${other} ,${spaces}`,
      })
      assert.deepEqual(config.allowedThumbprints, [HEX64_UPPER, other.toUpperCase()])
    })

    it('skips empty entries such as a trailing comma', () => {
      const config = parseServiceConfig({ ALLOWED_CERT_THUMBPRINTS: `,${HEX64},,` })
      assert.deepEqual(config.allowedThumbprints, [HEX64_UPPER])
    })

    it('refuses a SHA-1 thumbprint, saying SHA-256 is required', () => {
      assertRefused(
        { ALLOWED_CERT_THUMBPRINTS: `${HEX64},${'a1'.repeat(20)}` },
        'ALLOWED_CERT_THUMBPRINTS',
        /^ALLOWED_CERT_THUMBPRINTS: entry 2 .*SHA-1.*SHA-256 is required/
      )
    })

    for (const bad of ['ab'.repeat(31), 'ab'.repeat(33), `${'ab'.repeat(31)}zz`, 'sha1:' + HEX64]) {
      it(`refuses ${bad.slice(0, 12)}… (${bad.length} chars)`, () => {
        const error = configError({ ALLOWED_CERT_THUMBPRINTS: bad })
        assert.deepEqual(error.issues, [
          'ALLOWED_CERT_THUMBPRINTS: entry 1 is not a SHA-256 thumbprint (64 hex digits)',
        ])
      })
    }

    it('reports each bad entry by its position as written', () => {
      const error = configError({ ALLOWED_CERT_THUMBPRINTS: `${HEX64},,nope,${HEX64},x` })
      assert.deepEqual(error.issues, [
        'ALLOWED_CERT_THUMBPRINTS: entry 3 is not a SHA-256 thumbprint (64 hex digits)',
        'ALLOWED_CERT_THUMBPRINTS: entry 5 is not a SHA-256 thumbprint (64 hex digits)',
      ])
    })
  })

  describe('ALLOWED_CERT_COMMON_NAMES', () => {
    it('splits and trims a comma list', () => {
      const config = parseServiceConfig({ ALLOWED_CERT_COMMON_NAMES: ' a.example ,b.example,, ' })
      assert.deepEqual(config.allowedCommonNames, ['a.example', 'b.example'])
    })

    it('means no common names when set to an empty string', () => {
      const config = parseServiceConfig({
        ALLOWED_CERT_COMMON_NAMES: '',
        ALLOWED_CERT_THUMBPRINTS: HEX64,
      })
      assert.deepEqual(config.allowedCommonNames, [])
    })

    it('admits the default CN only when no thumbprint is pinned either', () => {
      assert.deepEqual(parseServiceConfig({}).allowedCommonNames, ['api-client.contoso.com'])
      assert.deepEqual(parseServiceConfig({ ALLOWED_CERT_THUMBPRINTS: HEX64 }).allowedCommonNames, [])
      const both = parseServiceConfig({ ALLOWED_CERT_THUMBPRINTS: HEX64, ALLOWED_CERT_COMMON_NAMES: 'a.example' })
      assert.deepEqual(both.allowedCommonNames, ['a.example'])
    })
  })

  it('refuses an allowlist that would refuse everyone, saying so', () => {
    const error = configError({ ALLOWED_CERT_COMMON_NAMES: '' })
    assert.equal(error.issues.length, 1)
    assert.match(error.issues[0]!, /^ALLOWED_CERT_THUMBPRINTS and ALLOWED_CERT_COMMON_NAMES/)
    assert.match(error.issues[0]!, /refuse every client/)
    assert.ok(configError({ ALLOWED_CERT_COMMON_NAMES: ' , ' }).issues[0]!.includes('refuse'))
  })

  describe('DIRECT_BACKEND_URL', () => {
    const good: Array<[string, string]> = [
      ['http://ca-backend/', 'http://ca-backend'],
      ['https://backend.example:8443/api/', 'https://backend.example:8443/api'],
      ['HTTP://Backend.Example', 'http://backend.example'],
      ['http://10.0.0.5:8080/base', 'http://10.0.0.5:8080/base'],
    ]
    for (const [input, expected] of good) {
      it(`accepts ${input}`, () => {
        assert.equal(parseServiceConfig({ DIRECT_BACKEND_URL: input }).directBackendUrl, expected)
      })
    }
    const bad: Array<[string, RegExp]> = [
      ['', /must not be empty/],
      ['ca-backend', /absolute http\(s\) URL/],
      ['/api', /absolute http\(s\) URL/],
      ['ftp://ca-backend', /http: or https:/],
      ['file:///etc/passwd', /http: or https:/],
      ['http://ca-backend/?x=1', /query or fragment/],
      ['http://ca-backend/?', /query or fragment/],
      ['http://ca-backend/#top', /query or fragment/],
      [' http://ca-backend', /whitespace/],
    ]
    for (const [input, why] of bad) {
      it(`refuses ${JSON.stringify(input)}`, () => {
        assertRefused({ DIRECT_BACKEND_URL: input }, 'DIRECT_BACKEND_URL', why)
      })
    }
  })

  describe('DAPR_TARGET_APP_ID', () => {
    for (const bad of ['', 'a/b', 'app id', 'app?x', 'äpp']) {
      it(`refuses ${JSON.stringify(bad)}`, () => {
        assertRefused({ DAPR_TARGET_APP_ID: bad }, 'DAPR_TARGET_APP_ID')
      })
    }
  })

  describe('DAPR_API_TOKEN', () => {
    it('is null when unset or empty', () => {
      assert.equal(parseServiceConfig({}).daprApiToken, null)
      assert.equal(parseServiceConfig({ DAPR_API_TOKEN: '' }).daprApiToken, null)
    })

    it('refuses a value that cannot be a header, without echoing it', () => {
      for (const bad of ['secret\n', 'sec ret', 'secr\u00e9t']) {
        const error = configError({ DAPR_API_TOKEN: bad })
        assert.equal(error.issues.length, 1)
        assert.match(error.issues[0]!, /^DAPR_API_TOKEN: /)
        assert.ok(!error.message.includes('sec'), error.message)
      }
    })
  })

  describe('CLIENT_CERT_MODE', () => {
    it('accepts require and accept in any case', () => {
      assert.equal(parseServiceConfig({ CLIENT_CERT_MODE: 'Accept' }).clientCertMode, 'accept')
      assert.equal(parseServiceConfig({ CLIENT_CERT_MODE: 'REQUIRE' }).clientCertMode, 'require')
    })
    for (const bad of ['', 'ignore', 'optional', ' require']) {
      it(`refuses ${JSON.stringify(bad)}`, () => {
        assertRefused({ CLIENT_CERT_MODE: bad }, 'CLIENT_CERT_MODE', /"require" or "accept"/)
      })
    }
  })

  it('names every bad variable in one message, in a stable order', () => {
    const error = configError({
      PORT: '0x10',
      ALLOWED_CERT_THUMBPRINTS: 'a1'.repeat(20),
      ALLOWED_CERT_COMMON_NAMES: '',
      DIRECT_BACKEND_URL: 'ftp://x',
      DAPR_HTTP_PORT: '',
      DAPR_TARGET_APP_ID: 'a/b',
      DAPR_API_TOKEN: 'bad token',
      OUTBOUND_TIMEOUT_MS: '600001',
      CLIENT_CERT_MODE: 'maybe',
    })
    const variables = error.issues.map((line) => line.slice(0, line.indexOf(':')))
    assert.deepEqual(variables, [
      'PORT',
      'ALLOWED_CERT_THUMBPRINTS',
      'DIRECT_BACKEND_URL',
      'DAPR_HTTP_PORT',
      'DAPR_TARGET_APP_ID',
      'DAPR_API_TOKEN',
      'OUTBOUND_TIMEOUT_MS',
      'CLIENT_CERT_MODE',
    ])
    assert.match(error.message, /^Invalid configuration \(8 problems\):\n/)
    for (const line of error.issues) assert.ok(error.message.includes(`  - ${line}`))
    assert.equal(error.name, 'ConfigError')
    assert.ok(error instanceof Error)
  })

  it('reports the empty allowlists alongside unrelated bad variables', () => {
    const error = configError({ PORT: '1e3', ALLOWED_CERT_COMMON_NAMES: '' })
    assert.equal(error.issues.length, 2)
    assert.match(error.issues[0]!, /^PORT: /)
    assert.match(error.issues[1]!, /refuse every client/)
  })

  it('refuses a value that is not a string', () => {
    const env = { PORT: 8080 } as unknown as Record<string, string>
    assertRefused(env, 'PORT', /must be a string/)
  })
})
