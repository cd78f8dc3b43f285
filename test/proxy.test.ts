// Trusted proxies: CIDR parsing and matching (IPv4, IPv6, IPv4-mapped, zones, edge prefixes,
// bad input) and the shared-secret header, each refusal with its exact code.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CertgateError } from '../src/errors.ts'
import { createProxyCheck, type ProxyCheck } from '../src/proxy/check.ts'
import { matchesCidr, parseCidr, parseIpAddress } from '../src/proxy/cidr.ts'

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function assertUntrusted(
  check: ProxyCheck,
  address: string | undefined,
  headers = new Headers()
): void {
  assert.throws(
    () => check.check(address, headers),
    (e: unknown) =>
      e instanceof CertgateError && e.code === 'ERR_PROXY_UNTRUSTED' && e.status === 403
  )
}

describe('parseCidr', () => {
  const valid: Array<[string, 4 | 6, string, number]> = [
    ['10.0.0.0/8', 4, '0a000000', 8],
    ['10.1.2.3/8', 4, '0a000000', 8], // host bits cleared, as Go's ParseCIDR
    ['127.0.0.1', 4, '7f000001', 32],
    ['192.168.1.7/32', 4, 'c0a80107', 32],
    ['0.0.0.0/0', 4, '00000000', 0],
    ['172.16.0.0/12', 4, 'ac100000', 12],
    ['fd00::/8', 6, 'fd' + '00'.repeat(15), 8],
    ['::1', 6, '00'.repeat(15) + '01', 128],
    ['::/0', 6, '00'.repeat(16), 0],
    ['2001:db8::/32', 6, '20010db8' + '00'.repeat(12), 32],
    ['2001:DB8:0:0:0:0:0:1/128', 6, '20010db8' + '00'.repeat(11) + '01', 128],
    ['fe80::/10', 6, 'fe80' + '00'.repeat(14), 10],
    ['1:2:3:4:5:6:7::', 6, '0001000200030004000500060007' + '0000', 128],
    ['::ffff:10.0.0.0/104', 4, '0a000000', 8], // an IPv4-mapped range is an IPv4 range
    ['::ffff:0:0/96', 4, '00000000', 0],
    ['64:ff9b::/96', 6, '0064ff9b' + '00'.repeat(12), 96],
    [' 10.0.0.0/8 ', 4, '0a000000', 8],
  ]
  for (const [text, family, bytes, prefix] of valid) {
    it(`parses ${JSON.stringify(text)}`, () => {
      const cidr = parseCidr(text)
      assert.equal(cidr.family, family)
      assert.equal(hex(cidr.bytes), bytes)
      assert.equal(cidr.prefix, prefix)
    })
  }

  const invalid = [
    '',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/+8',
    '10.0.0.0/08',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0/8',
    '10.0.0.0.0',
    '256.0.0.0',
    '010.0.0.1',
    '10.0.0.1 /8',
    'fd00::/129',
    '1::2::3',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4::5:6:7:8',
    '12345::',
    'fe80::1%eth0',
    'g::1',
    '1.2.3.4::',
    '::1.2.3',
    'localhost',
    '10.0.0.0/8,10.0.0.0/9',
  ]
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text)} with a TypeError`, () => {
      assert.throws(() => parseCidr(text), TypeError)
    })
  }
})

describe('matchesCidr', () => {
  const table: Array<[string, string, boolean]> = [
    ['10.1.2.3', '10.0.0.0/8', true],
    ['11.1.2.3', '10.0.0.0/8', false],
    ['10.255.255.255', '10.0.0.0/8', true],
    ['172.31.255.1', '172.16.0.0/12', true],
    ['172.32.0.1', '172.16.0.0/12', false],
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.2', '127.0.0.1/32', false],
    ['203.0.113.9', '0.0.0.0/0', true],
    ['::1', '0.0.0.0/0', false], // families never mix, except IPv4-mapped
    ['::ffff:10.1.2.3', '10.0.0.0/8', true], // Node's dual-stack sockets
    ['::FFFF:10.1.2.3', '10.0.0.0/8', true],
    ['::ffff:a01:203', '10.0.0.0/8', true], // the same address in hex
    ['0:0:0:0:0:ffff:10.1.2.3', '10.0.0.0/8', true],
    ['10.1.2.3', '::ffff:10.0.0.0/104', true],
    ['::ffff:11.1.2.3', '10.0.0.0/8', false],
    ['::ffff:10.1.2.3', '::/0', false], // a mapped address is IPv4
    ['::1', '::1', true],
    ['::1', '::1/128', true],
    ['::2', '::1/128', false],
    ['0:0:0:0:0:0:0:1', '::1', true],
    ['fd12:3456::1', 'fd00::/8', true],
    ['fe80::1', 'fd00::/8', false],
    ['fe80::1%eth0', 'fe80::/10', true], // the zone is dropped
    ['[::1]', '::1', true],
    ['febf::1', 'fe80::/10', true],
    ['fec0::1', 'fe80::/10', false],
    ['2001:db8::1', '::/0', true],
    ['10.1.2.3', 'fd00::/8', false],
    ['not an ip', '0.0.0.0/0', false],
    ['', '::/0', false],
    ['10.1.2.3:8080', '10.0.0.0/8', false],
  ]
  for (const [address, cidr, expected] of table) {
    it(`${address} ${expected ? 'is' : 'is not'} in ${cidr}`, () => {
      assert.equal(matchesCidr(address, cidr), expected)
      assert.equal(matchesCidr(address, parseCidr(cidr)), expected)
    })
  }

  it('parseIpAddress returns IPv4 for a mapped address, null for junk', () => {
    assert.deepEqual(parseIpAddress('::ffff:127.0.0.1'), {
      family: 4,
      bytes: Uint8Array.of(127, 0, 0, 1),
    })
    assert.equal(parseIpAddress('127.1'), null)
    assert.equal(parseIpAddress('::ffff:1.2.3.4.5'), null)
  })
})

describe('createProxyCheck', () => {
  it('is null when neither option is set', () => {
    assert.equal(createProxyCheck({}), null)
  })

  it('refuses bad options at creation', () => {
    assert.throws(() => createProxyCheck({ trustedProxies: [] }), TypeError)
    assert.throws(() => createProxyCheck({ trustedProxies: ['10.0.0.0/8', 'nope'] }), TypeError)
    assert.throws(
      () => createProxyCheck({ trustedProxies: '10.0.0.0/8' as unknown as string[] }),
      TypeError
    )
    assert.throws(
      () => createProxyCheck({ sharedSecret: { header: 'x-proxy-secret', value: '' } }),
      TypeError
    )
    assert.throws(
      () => createProxyCheck({ sharedSecret: { header: 'x_proxy_secret', value: 's3cret' } }),
      TypeError
    )
    assert.throws(
      () => createProxyCheck({ sharedSecret: { header: 'x-proxy-secret', value: ' s3cret' } }),
      TypeError
    )
    assert.throws(
      () => createProxyCheck({ sharedSecret: { header: 'x-proxy-secret', value: 'sécret' } }),
      TypeError
    )
  })

  describe('trustedProxies', () => {
    const check = createProxyCheck({ trustedProxies: ['10.0.0.0/8', 'fd00::/8', '127.0.0.1'] })!

    it('passes addresses in range, v4, v6 and IPv4-mapped', () => {
      for (const address of [
        '10.0.0.1',
        '127.0.0.1',
        'fd00::5',
        '::ffff:10.9.8.7',
        '::ffff:127.0.0.1',
      ]) {
        assert.doesNotThrow(() => check.check(address, new Headers()), address)
      }
    })

    it('refuses addresses out of range, unknown and unparsable: ERR_PROXY_UNTRUSTED', () => {
      for (const address of [
        '192.168.1.1',
        '127.0.0.2',
        '::1',
        'fe80::1',
        '::ffff:192.168.1.1',
        'junk',
      ]) {
        assertUntrusted(check, address)
      }
      assertUntrusted(check, undefined)
    })

    it('never looks at forwarding headers a client could write', () => {
      const headers = new Headers({ 'x-forwarded-for': '10.0.0.1', forwarded: 'for=10.0.0.1' })
      assertUntrusted(check, '203.0.113.5', headers)
    })
  })

  describe('sharedSecret', () => {
    const secret = { header: 'X-Proxy-Secret', value: 'c0rrect-horse-battery-staple' }
    const check = createProxyCheck({ sharedSecret: secret })!

    it('passes the right value', () => {
      assert.doesNotThrow(() =>
        check.check(undefined, new Headers({ 'x-proxy-secret': secret.value }))
      )
    })

    it('refuses a wrong, missing, shorter, longer or repeated value: ERR_PROXY_UNTRUSTED', () => {
      assertUntrusted(check, undefined)
      for (const value of [
        'c0rrect-horse-battery-stapl3',
        'c0rrect-horse-battery-stapl',
        'c0rrect-horse-battery-staple!',
        secret.value + secret.value,
        'C0RRECT-HORSE-BATTERY-STAPLE',
        'x',
        '',
      ]) {
        assertUntrusted(check, undefined, new Headers({ 'x-proxy-secret': value }))
      }
      const twice = new Headers()
      twice.append('x-proxy-secret', secret.value)
      twice.append('x-proxy-secret', secret.value)
      assertUntrusted(check, undefined, twice)
    })

    it('refuses a value that differs only in a byte past ASCII', () => {
      const latin1 = String.fromCharCode(0xe3) + secret.value.slice(1)
      assertUntrusted(check, undefined, new Headers({ 'x-proxy-secret': latin1 }))
    })
  })

  describe('both', () => {
    const check = createProxyCheck({
      trustedProxies: ['10.0.0.0/8'],
      sharedSecret: { header: 'x-proxy-secret', value: 'topsecret' },
    })!
    const good = new Headers({ 'x-proxy-secret': 'topsecret' })

    it('passes only when both pass', () => {
      assert.doesNotThrow(() => check.check('10.1.1.1', good))
      assertUntrusted(check, '192.168.1.1', good)
      assertUntrusted(check, '10.1.1.1', new Headers({ 'x-proxy-secret': 'topsecreT' }))
      assertUntrusted(check, undefined, good)
    })
  })
})
