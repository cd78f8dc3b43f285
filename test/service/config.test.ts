/**
 * Tests for the service configuration: defaults, each variable's good and bad values, and a
 * message that names every bad variable at once. Files (the CA bundle, CRLs) come from an
 * in-memory reader, plus a real temporary directory where the runtime's own error code matters.
 * @module
 */

import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, parseServiceConfig, type ReadFile } from '../../src/service/config.ts'
import type { ParseServiceConfigOptions, ServiceConfig } from '../../src/service/config.ts'
import { SOURCE_NAMES } from '../../src/sources/index.ts'
import { createTestPki, type TestCertificate, type TestPki } from '../../src/testing/index.ts'
import { createTestCrl, type TestCrl } from '../support/pki.ts'

const HEX64 = 'ab'.repeat(32)
const HEX64_UPPER = HEX64.toUpperCase()

/** The CN allowlist the service needs to start at all, for tests about other variables. */
const ALLOWLIST = { ALLOWED_CERT_COMMON_NAMES: 'api-client.contoso.com' }

/** `parseServiceConfig`, with {@link ALLOWLIST} unless `env` sets an allowlist variable itself. */
function parse(
  env: Record<string, string | undefined>,
  options?: ParseServiceConfigOptions
): ServiceConfig {
  const setsAllowlist = 'ALLOWED_CERT_THUMBPRINTS' in env || 'ALLOWED_CERT_COMMON_NAMES' in env
  return parseServiceConfig(setsAllowlist ? env : { ...ALLOWLIST, ...env }, options)
}

/** A reader over `files` that records every path asked for; anything else is ENOENT. */
function memoryFiles(files: Record<string, string | Uint8Array>): ReadFile & { asked: string[] } {
  const asked: string[] = []
  function readFile(path: string): Uint8Array {
    asked.push(path)
    const content = Object.hasOwn(files, path) ? files[path] : undefined
    if (content === undefined) {
      throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' })
    }
    return typeof content === 'string' ? new TextEncoder().encode(content) : content
  }
  return Object.assign(readFile, { asked })
}

/** The ConfigError that parsing `env` throws. */
function configError(
  env: Record<string, string | undefined>,
  readFile?: ReadFile
): ConfigError {
  try {
    parse(env, readFile === undefined ? {} : { readFile })
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
  why?: RegExp,
  readFile?: ReadFile
): void {
  const error = configError(env, readFile)
  assert.equal(error.issues.length, 1, error.message)
  assert.ok(error.issues[0]!.startsWith(`${variable}: `), error.issues[0])
  if (why) assert.match(error.issues[0]!, why)
  assert.ok(error.message.includes(error.issues[0]!))
}

describe('parseServiceConfig', () => {
  it('applies every default beside the allowlist, which has none', () => {
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
      clientCertSource: 'xfcc',
      trust: null,
      trustFiles: { caBundle: null, crls: [] },
      trustReloadSeconds: 5,
      trustedProxies: null,
      refuseDaprInvoked: true,
    }
    assert.deepEqual(parse(ALLOWLIST), expected)
  })

  it('treats a variable set to undefined as unset and ignores unknown variables', () => {
    const config = parse({ PORT: undefined, PATH: '/usr/bin', HOME: '', FOO: 'x' })
    assert.equal(config.port, 8000)
    assert.equal(Object.keys(config).length, 15)
  })

  it('reads every variable when set', () => {
    const config = parse({
      PORT: '8443',
      ALLOWED_CERT_THUMBPRINTS: HEX64,
      ALLOWED_CERT_COMMON_NAMES: 'a.example, b.example',
      DIRECT_BACKEND_URL: 'https://backend.internal:8443/api',
      DAPR_HTTP_PORT: '3501',
      DAPR_TARGET_APP_ID: 'my_app-2.v1',
      DAPR_API_TOKEN: 's3cr3t-token',
      OUTBOUND_TIMEOUT_MS: '250',
      CLIENT_CERT_MODE: 'accept',
      CLIENT_CERT_SOURCE: 'nginx',
      TRUSTED_PROXY_CIDRS: '10.0.0.0/8',
      REFUSE_DAPR_INVOKED: 'false',
      TRUST_RELOAD_SECONDS: '0',
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
      clientCertSource: 'nginx',
      trust: null,
      trustFiles: { caBundle: null, crls: [] },
      trustReloadSeconds: 0,
      trustedProxies: ['10.0.0.0/8'],
      refuseDaprInvoked: false,
    })
  })

  describe('ports', () => {
    for (const variable of ['PORT', 'DAPR_HTTP_PORT'] as const) {
      const field = variable === 'PORT' ? 'port' : 'daprHttpPort'
      it(`${variable} accepts 1 and 65535`, () => {
        assert.equal(parse({ [variable]: '1' })[field], 1)
        assert.equal(parse({ [variable]: '65535' })[field], 65535)
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
      assert.equal(parse({ OUTBOUND_TIMEOUT_MS: '1' }).outboundTimeoutMs, 1)
      assert.equal(parse({ OUTBOUND_TIMEOUT_MS: '600000' }).outboundTimeoutMs, 600000)
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
      const config = parse({
        ALLOWED_CERT_THUMBPRINTS: `sha256:${colons}, SHA256:${other} ,${spaces}`,
      })
      assert.deepEqual(config.allowedThumbprints, [HEX64_UPPER, other.toUpperCase()])
    })

    it('accepts the sha-256: prefix the library accepts', () => {
      const config = parse({ ALLOWED_CERT_THUMBPRINTS: `sha-256:${HEX64}, SHA-256:${HEX64}` })
      assert.deepEqual(config.allowedThumbprints, [HEX64_UPPER])
    })

    it('skips empty entries such as a trailing comma', () => {
      const config = parse({ ALLOWED_CERT_THUMBPRINTS: `,${HEX64},,` })
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
      const config = parse({ ALLOWED_CERT_COMMON_NAMES: ' a.example ,b.example,, ' })
      assert.deepEqual(config.allowedCommonNames, ['a.example', 'b.example'])
    })

    it('means no common names when set to an empty string', () => {
      const config = parse({
        ALLOWED_CERT_COMMON_NAMES: '',
        ALLOWED_CERT_THUMBPRINTS: HEX64,
      })
      assert.deepEqual(config.allowedCommonNames, [])
    })

    it('admits no CN when only thumbprints are pinned', () => {
      assert.deepEqual(parse({ ALLOWED_CERT_THUMBPRINTS: HEX64 }).allowedCommonNames, [])
      const both = parse({ ALLOWED_CERT_THUMBPRINTS: HEX64, ALLOWED_CERT_COMMON_NAMES: 'a.example' })
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
        assert.equal(parse({ DIRECT_BACKEND_URL: input }).directBackendUrl, expected)
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
      assert.equal(parse({}).daprApiToken, null)
      assert.equal(parse({ DAPR_API_TOKEN: '' }).daprApiToken, null)
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
      assert.equal(parse({ CLIENT_CERT_MODE: 'Accept' }).clientCertMode, 'accept')
      assert.equal(parse({ CLIENT_CERT_MODE: 'REQUIRE' }).clientCertMode, 'require')
    })
    for (const bad of ['', 'ignore', 'optional', ' require']) {
      it(`refuses ${JSON.stringify(bad)}`, () => {
        assertRefused({ CLIENT_CERT_MODE: bad }, 'CLIENT_CERT_MODE', /"require" or "accept"/)
      })
    }
  })

  it('names every bad variable in one message, in a stable order', () => {
    const env = {
      PORT: '0x10',
      ALLOWED_CERT_THUMBPRINTS: 'a1'.repeat(20),
      ALLOWED_CERT_COMMON_NAMES: '',
      DIRECT_BACKEND_URL: 'ftp://x',
      DAPR_HTTP_PORT: '',
      DAPR_TARGET_APP_ID: 'a/b',
      DAPR_API_TOKEN: 'bad token',
      OUTBOUND_TIMEOUT_MS: '600001',
      CLIENT_CERT_MODE: 'maybe',
      CLIENT_CERT_SOURCE: 'envoy',
      TRUSTED_CA_CERTS: '/no/such/bundle.pem',
      CRL_FILES: '/no/such/crl.pem',
      TRUSTED_PROXY_CIDRS: '10.0.0.0/33',
    }
    const error = configError(env, memoryFiles({}))
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
      'CLIENT_CERT_SOURCE',
      'TRUSTED_CA_CERTS',
      'CRL_FILES',
      'TRUSTED_PROXY_CIDRS',
    ])
    assert.match(error.message, /^Invalid configuration \(12 problems\):\n/)
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

describe('CLIENT_CERT_SOURCE', () => {
  it('defaults to xfcc and accepts every source name, in any case', () => {
    assert.equal(parse({}).clientCertSource, 'xfcc')
    for (const name of SOURCE_NAMES.filter((n) => n !== 'alb-passthrough' && n !== 'app-service')) {
      assert.equal(parse({ CLIENT_CERT_SOURCE: name }).clientCertSource, name)
    }
    assert.equal(parse({ CLIENT_CERT_SOURCE: 'NGINX' }).clientCertSource, 'nginx')
  })

  it('refuses sources whose proxy forwards unverified certificates unless TRUSTED_CA_CERTS is set', () => {
    for (const name of ['alb-passthrough', 'app-service']) {
      const error = configError({ CLIENT_CERT_SOURCE: name })
      assert.equal(error.issues.length, 1)
      assert.match(error.issues[0]!, /never verified; set TRUSTED_CA_CERTS/)
    }
  })

  for (const bad of ['', 'envoy', 'app-gateway', 'custom', ' nginx']) {
    it(`refuses ${JSON.stringify(bad)}, listing the names`, () => {
      const why = /one of xfcc, traefik, nginx/
      assertRefused({ CLIENT_CERT_SOURCE: bad }, 'CLIENT_CERT_SOURCE', why)
    })
  }
})

describe('TRUSTED_PROXY_CIDRS', () => {
  it('is null when unset: the header is honoured from any address', () => {
    assert.equal(parse({}).trustedProxies, null)
  })

  it('reads a comma list of IPv4 and IPv6 CIDRs and plain IPs, dropping empties', () => {
    const config = parse({
      TRUSTED_PROXY_CIDRS: ' 10.0.0.0/8, fd00::/8,,127.0.0.1 ,::ffff:10.0.0.0/104,10.0.0.0/8,',
    })
    assert.deepEqual(config.trustedProxies, [
      '10.0.0.0/8',
      'fd00::/8',
      '127.0.0.1',
      '::ffff:10.0.0.0/104',
    ])
  })

  it('reports each bad entry by its position, as parseCidr judges it', () => {
    const error = configError({
      TRUSTED_PROXY_CIDRS: '10.0.0.0/8,10.0.0.0/33,010.0.0.1,fe80::1%eth0,proxy.internal',
    })
    assert.deepEqual(
      error.issues.map((line) => line.replace(/ \(got .*$/, '')),
      [
        'TRUSTED_PROXY_CIDRS: entry 2 is not a CIDR or IP address',
        'TRUSTED_PROXY_CIDRS: entry 3 is not a CIDR or IP address',
        'TRUSTED_PROXY_CIDRS: entry 4 is not a CIDR or IP address',
        'TRUSTED_PROXY_CIDRS: entry 5 is not a CIDR or IP address',
      ]
    )
  })

  for (const empty of ['', ' , ']) {
    it(`refuses ${JSON.stringify(empty)}: an empty list would refuse every request`, () => {
      assertRefused({ TRUSTED_PROXY_CIDRS: empty }, 'TRUSTED_PROXY_CIDRS', /at least one/)
    })
  }
})

describe('TRUSTED_CA_CERTS and CRL_FILES', () => {
  let pki: TestPki
  let leaf: TestCertificate
  let crl: TestCrl
  let rootCrl: TestCrl
  let dir: string

  before(async () => {
    pki = await createTestPki()
    leaf = await pki.issue({ commonName: 'api-client.contoso.com' })
    crl = await createTestCrl({ issuer: pki.intermediate, revoked: [leaf] })
    rootCrl = await createTestCrl({ issuer: pki.root })
    dir = mkdtempSync(join(tmpdir(), 'certgate-config-'))
  })

  after(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('is null when unset: allowlists only', () => {
    assert.equal(parse({}).trust, null)
  })

  it('takes PEM text itself: self-signed CAs are roots, the others intermediates', () => {
    const config = parse({ TRUSTED_CA_CERTS: pki.intermediate.pem + pki.root.pem })
    assert.deepEqual(config.trust, {
      roots: [pki.root.pem],
      intermediates: [pki.intermediate.pem],
      crls: [],
    })
  })

  it('takes PEM text with literal \\n, as a single-line setting carries it', () => {
    const oneLine = (pki.root.pem + pki.intermediate.pem).replace(/\n/g, '\\n')
    const config = parse({ TRUSTED_CA_CERTS: oneLine })
    assert.deepEqual(config.trust?.roots, [pki.root.pem])
    assert.deepEqual(config.trust?.intermediates, [pki.intermediate.pem])
  })

  it('reads a path through readFile, ignoring text around the blocks', () => {
    const bundle =
      `# our CAs\nsubject=CN = certgate test root CA\n${pki.root.pem}\n` +
      `subject=CN = certgate test intermediate CA\n${pki.intermediate.pem}`
    const files = memoryFiles({ '/etc/certgate/ca.pem': bundle })
    const config = parse(
      { TRUSTED_CA_CERTS: '/etc/certgate/ca.pem' },
      { readFile: files }
    )
    assert.deepEqual(files.asked, ['/etc/certgate/ca.pem'])
    assert.deepEqual(config.trust, {
      roots: [pki.root.pem],
      intermediates: [pki.intermediate.pem],
      crls: [],
    })
  })

  it('reads a real file with the runtime reader, and a DER certificate file', () => {
    const pemPath = join(dir, 'bundle.pem')
    const derPath = join(dir, 'root.der')
    writeFileSync(pemPath, pki.root.pem + pki.intermediate.pem)
    writeFileSync(derPath, pki.root.der)
    const readFile: ReadFile = (path) => readFileSync(path)
    const fromPem = parse({ TRUSTED_CA_CERTS: pemPath }, { readFile })
    assert.equal(fromPem.trust?.roots.length, 1)
    assert.equal(fromPem.trust?.intermediates.length, 1)
    const fromDer = parse({ TRUSTED_CA_CERTS: derPath }, { readFile })
    assert.deepEqual(fromDer.trust?.roots, [pki.root.pem])
  })

  it('anchors at a CA whose issuer the bundle does not hold', () => {
    const config = parse({ TRUSTED_CA_CERTS: pki.intermediate.pem })
    assert.deepEqual(config.trust?.roots, [pki.intermediate.pem])
    assert.deepEqual(config.trust?.intermediates, [])
  })

  it('counts a certificate listed twice once', () => {
    const config = parse({ TRUSTED_CA_CERTS: pki.root.pem + pki.root.pem })
    assert.deepEqual(config.trust?.roots, [pki.root.pem])
  })

  it('refuses a file that cannot be read, naming the variable, the path and the code', () => {
    const missing = join(dir, 'missing.pem')
    const error = configError({ TRUSTED_CA_CERTS: missing }, (path) => readFileSync(path))
    assert.deepEqual(error.issues, [
      `TRUSTED_CA_CERTS: cannot read ${JSON.stringify(missing)} (ENOENT)`,
    ])
  })

  it('refuses a path when no reader was given', () => {
    assertRefused({ TRUSTED_CA_CERTS: '/ca.pem' }, 'TRUSTED_CA_CERTS', /no file reader/)
  })

  const badBundles: Array<[string, () => string, RegExp]> = [
    ['an empty value', () => '', /must not be empty/],
    ['a leaf among the CAs', () => pki.root.pem + leaf.pem, /certificate 2 .*is not a CA/],
    ['a leaf alone', () => leaf.pem, /certificate 1 .*is not a CA/],
    ['a CRL instead of certificates', () => crl.pem, /holds no CERTIFICATE PEM block/],
    [
      'broken base64',
      () => '-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n',
      /not valid base64/,
    ],
    [
      'base64 that is not a certificate',
      () => '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      /not a parsable X\.509 certificate/,
    ],
  ]
  for (const [what, value, why] of badBundles) {
    it(`refuses ${what}`, () => {
      assertRefused({ TRUSTED_CA_CERTS: value() }, 'TRUSTED_CA_CERTS', why)
    })
  }

  it('refuses a file with no certificate in it', () => {
    const files = memoryFiles({ '/ca.pem': crl.pem, '/empty.pem': '' })
    const variable = 'TRUSTED_CA_CERTS'
    assertRefused({ [variable]: '/ca.pem' }, variable, /holds no CERTIFICATE/, files)
    assertRefused({ [variable]: '/empty.pem' }, variable, /not a parsable/, files)
  })

  it('CRL_FILES reads PEM and DER files into trust.crls', () => {
    const files = memoryFiles({
      '/ca.pem': pki.root.pem,
      '/int.crl': crl.pem,
      '/root.crl': rootCrl.der,
    })
    const config = parse(
      { TRUSTED_CA_CERTS: '/ca.pem', CRL_FILES: ' /int.crl, /root.crl ,' },
      { readFile: files }
    )
    assert.deepEqual(config.trust?.crls, [crl.der, rootCrl.der])
    // The files the service watches: the bundle's path and every CRL path, as written.
    assert.deepEqual(config.trustFiles, { caBundle: '/ca.pem', crls: ['/int.crl', '/root.crl'] })
  })

  it('watches no bundle file when TRUSTED_CA_CERTS is PEM text', () => {
    const config = parse({ TRUSTED_CA_CERTS: `  ${pki.root.pem}` })
    assert.deepEqual(config.trustFiles, { caBundle: null, crls: [] })
  })

  it('TRUST_RELOAD_SECONDS: 0 turns reloading off; out of range or not digits is refused', () => {
    assert.equal(parse({ TRUST_RELOAD_SECONDS: '0' }).trustReloadSeconds, 0)
    assert.equal(parse({ TRUST_RELOAD_SECONDS: '86400' }).trustReloadSeconds, 86_400)
    const variable = 'TRUST_RELOAD_SECONDS'
    assertRefused({ [variable]: '86401' }, variable, /from 0 to 86400 \(got 86401\)/)
    assertRefused({ [variable]: '1.5' }, variable, /from 0 to 86400 \(got "1\.5"\)/)
    assertRefused({ [variable]: '' }, variable, /must not be empty \(unset it to use the default 5\)/)
  })

  it('CRL_FILES set to an empty list adds no CRL', () => {
    const config = parse({ TRUSTED_CA_CERTS: pki.root.pem, CRL_FILES: '' })
    assert.deepEqual(config.trust?.crls, [])
    assert.equal(parse({ CRL_FILES: '' }).trust, null)
  })

  it('refuses CRL_FILES without TRUSTED_CA_CERTS, reading no file', () => {
    const files = memoryFiles({ '/int.crl': crl.pem })
    assertRefused({ CRL_FILES: '/int.crl' }, 'CRL_FILES', /needs TRUSTED_CA_CERTS/, files)
    assert.deepEqual(files.asked, [])
  })

  it('refuses each CRL file that is missing or not a CRL, by position', () => {
    const files = memoryFiles({ '/int.crl': crl.pem, '/leaf.pem': leaf.pem })
    const env = { TRUSTED_CA_CERTS: pki.root.pem, CRL_FILES: '/int.crl,/gone.crl,/leaf.pem' }
    assert.deepEqual(configError(env, files).issues, [
      'CRL_FILES: entry 2 cannot read "/gone.crl" (ENOENT)',
      'CRL_FILES: entry 3 "/leaf.pem" holds no CRL (PEM X509 CRL blocks, or DER)',
    ])
  })

  it('reports a bad CA bundle and a bad CRL file together', () => {
    const error = configError(
      { TRUSTED_CA_CERTS: leaf.pem, CRL_FILES: '/gone.crl' },
      memoryFiles({})
    )
    assert.deepEqual(
      error.issues.map((line) => line.slice(0, line.indexOf(':'))),
      ['TRUSTED_CA_CERTS', 'CRL_FILES']
    )
  })
})
