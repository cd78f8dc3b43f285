import 'reflect-metadata'
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import * as x509 from '@peculiar/x509'
import { readClientCertificate } from '../src/x509/certificate.ts'
import { runProgram, type RunProgram } from '../src/cli/io.ts'
import { main } from '../src/cli/main.ts'
import { decodeCertificates, encodeBase64 } from '../src/x509/pem.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'
import { parseXfcc } from '../src/xfcc/parse.ts'

interface CliResult {
  code: number
  stdout: string
  stderr: string
}

interface CliOptions {
  env?: Record<string, string | undefined>
  /** What standard input holds; reading it when not given fails the test. */
  stdin?: string | Uint8Array
  runProgram?: RunProgram
}

async function cli(argv: string[], options: CliOptions = {}): Promise<CliResult> {
  let stdout = ''
  let stderr = ''
  const { stdin } = options
  const code = await main(argv, {
    stdout: (text: string): void => {
      stdout += text
    },
    stderr: (text: string): void => {
      stderr += text
    },
    readFile: (path: string): Promise<Uint8Array> => readFile(path),
    readStdin: (): Promise<Uint8Array> =>
      stdin === undefined
        ? Promise.reject(new Error('this test gave no standard input'))
        : Promise.resolve(typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin),
    runProgram: options.runProgram ?? runProgram,
    env: options.env ?? process.env,
  })
  return { code, stdout, stderr }
}

/** The value printed after `label:` in inspect's output. */
function field(stdout: string, label: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label}:`))
  return line?.slice(label.length + 1).trim()
}

/** Exactly one `certgate: …` line on stderr, nothing on stdout, no stack trace. */
function assertOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  assert.equal(result.code, code, result.stderr)
  assert.equal(result.stdout, '')
  assert.match(result.stderr, /^certgate: [^\n]+\n$/)
  assert.match(result.stderr, pattern)
  assert.doesNotMatch(result.stderr, /\bat .+:\d+:\d+/)
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function keyMatchesCertificate(keyPem: string, cert: x509.X509Certificate): Promise<boolean> {
  const signing =
    cert.publicKey.algorithm.name === 'ECDSA'
      ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decodeFirst(keyPem),
    signing,
    false,
    ['sign']
  )
  const publicKey = await cert.publicKey.export(signing, ['verify'])
  const message = new TextEncoder().encode('certgate key check')
  const signature = await crypto.subtle.sign(signing, privateKey, message)
  return crypto.subtle.verify(signing, publicKey, signature, message)
}

const isNode =
  !('Bun' in globalThis) && !('Deno' in globalThis) && process.release?.name === 'node'

let dir: string
let pki: TestPki
let leaf: TestCertificate
let other: TestCertificate
let paths: Record<string, string>

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certgate-cli-'))
  pki = await createTestPki()
  leaf = await pki.issue({
    commonName: 'api-client.contoso.com',
    dnsNames: ['api-client.contoso.com'],
    uris: ['spiffe://contoso.com/api-client'],
  })
  other = await pki.issue({ commonName: 'someone-else' })
  const expired = await pki.issue({
    commonName: 'expired',
    notBefore: new Date(Date.now() - 2 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  })
  const future = await pki.issue({
    commonName: 'future',
    notBefore: new Date(Date.now() + 86_400_000),
    notAfter: new Date(Date.now() + 2 * 86_400_000),
  })
  paths = {
    pem: join(dir, 'leaf.pem'),
    der: join(dir, 'leaf.der'),
    chain: join(dir, 'chain.pem'),
    xfcc: join(dir, 'xfcc.txt'),
    xfccMismatch: join(dir, 'xfcc-mismatch.txt'),
    expired: join(dir, 'expired.pem'),
    future: join(dir, 'future.pem'),
    garbage: join(dir, 'garbage.txt'),
    binary: join(dir, 'garbage.bin'),
    empty: join(dir, 'empty.pem'),
  }
  await writeFile(paths.pem, leaf.pem)
  await writeFile(paths.der, leaf.der)
  await writeFile(paths.chain, leaf.pem + pki.intermediate.pem)
  // A client-sent element on the left: inspect must read the rightmost (the proxy's).
  await writeFile(paths.xfcc, `${xfccHeader(leaf, { before: xfccHeader(other) })}\n`)
  await writeFile(paths.xfccMismatch, xfccHeader(leaf, { hash: '00'.repeat(32) }))
  await writeFile(paths.expired, expired.pem)
  await writeFile(paths.future, future.pem)
  await writeFile(paths.garbage, 'hello, this is not a certificate\n')
  await writeFile(paths.binary, new Uint8Array([0x30, 0x82, 0x01, 0x00, 0xff, 0xfe, 0x00, 0x01]))
  await writeFile(paths.empty, '')
})

after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('certgate inspect', () => {
  it('reads a PEM certificate and prints the thumbprints, names and the paste line', async () => {
    const result = await cli(['inspect', paths.pem])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stderr, '')
    const cert = await readClientCertificate(leaf.der)
    assert.equal(field(result.stdout, 'Read from'), 'PEM')
    assert.equal(field(result.stdout, 'SHA-256'), leaf.thumbprint)
    assert.match(field(result.stdout, 'SHA-1')!, new RegExp(`^${cert.thumbprintSha1} .*never pin`))
    assert.equal(field(result.stdout, 'Common name'), 'api-client.contoso.com')
    assert.equal(field(result.stdout, 'Subject'), 'CN=api-client.contoso.com')
    assert.equal(field(result.stdout, 'Issuer'), cert.issuer)
    assert.equal(field(result.stdout, 'Serial'), cert.serialNumber)
    assert.equal(field(result.stdout, 'Not before'), cert.notBefore.toISOString())
    assert.equal(field(result.stdout, 'Not after'), cert.notAfter.toISOString())
    assert.equal(field(result.stdout, 'DNS names'), 'api-client.contoso.com')
    assert.equal(field(result.stdout, 'URIs'), 'spiffe://contoso.com/api-client')
    assert.equal(field(result.stdout, 'SPIFFE ID'), 'spiffe://contoso.com/api-client')
    assert.equal(field(result.stdout, 'XFCC Hash'), undefined)
    const lines = result.stdout.trimEnd().split('\n')
    assert.equal(lines[lines.length - 1], `ALLOWED_CERT_THUMBPRINTS=${leaf.thumbprint}`)
  })

  it('reads DER bytes', async () => {
    const result = await cli(['inspect', paths.der])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(field(result.stdout, 'Read from'), 'DER')
    assert.equal(field(result.stdout, 'SHA-256'), leaf.thumbprint)
    assert.equal(field(result.stdout, 'Common name'), 'api-client.contoso.com')
    assert.ok(result.stdout.includes(`\nALLOWED_CERT_THUMBPRINTS=${leaf.thumbprint}\n`))
  })

  it('reads bare base64 DER', async () => {
    const file = join(dir, 'leaf.b64')
    await writeFile(file, `${encodeBase64(leaf.der)}\n`)
    const result = await cli(['inspect', file])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(field(result.stdout, 'Read from'), 'base64 DER')
    assert.equal(field(result.stdout, 'SHA-256'), leaf.thumbprint)
  })

  it('reads the rightmost element of an XFCC value and reports a matching Hash', async () => {
    const result = await cli(['inspect', paths.xfcc])
    assert.equal(result.code, 0, result.stderr)
    assert.match(field(result.stdout, 'Read from')!, /^XFCC value, element 2 of 2/)
    assert.equal(field(result.stdout, 'SHA-256'), leaf.thumbprint)
    assert.equal(field(result.stdout, 'Common name'), 'api-client.contoso.com')
    assert.equal(field(result.stdout, 'XFCC Hash'), 'matches the certificate')
    assert.ok(result.stdout.includes(`\nALLOWED_CERT_THUMBPRINTS=${leaf.thumbprint}\n`))
  })

  it('reports a Hash that does not match the Cert', async () => {
    const result = await cli(['inspect', paths.xfccMismatch])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(field(result.stdout, 'SHA-256'), leaf.thumbprint)
    assert.match(field(result.stdout, 'XFCC Hash')!, /^DOES NOT MATCH the certificate/)
  })

  it('prints toJSON() with --json', async () => {
    const result = await cli(['inspect', paths.pem, '--json'])
    assert.equal(result.code, 0, result.stderr)
    const expected = (await readClientCertificate(leaf.der)).toJSON()
    assert.deepEqual(JSON.parse(result.stdout), expected)
    assert.equal(expected.thumbprint, leaf.thumbprint)
  })

  it('marks expired and not yet valid certificates', async () => {
    const expired = await cli(['inspect', paths.expired])
    assert.match(field(expired.stdout, 'Not after')!, / \(expired\)$/)
    assert.doesNotMatch(field(expired.stdout, 'Not before')!, /\(/)
    const future = await cli(['inspect', paths.future])
    assert.match(field(future.stdout, 'Not before')!, / \(not yet valid\)$/)
    assert.doesNotMatch(field(future.stdout, 'Not after')!, /\(/)
  })
})

describe('certgate xfcc', () => {
  it('prints the value Envoy sends, which parses back to the same certificate', async () => {
    const result = await cli(['xfcc', paths.pem])
    assert.equal(result.code, 0, result.stderr)
    assert.ok(result.stdout.endsWith('\n'))
    assert.equal(result.stdout.indexOf('\n'), result.stdout.length - 1)
    const elements = parseXfcc(result.stdout)
    assert.equal(elements.length, 1)
    const element = elements[0]!
    assert.equal(element.hash, leaf.thumbprint.toLowerCase())
    assert.deepEqual(decodeCertificates(element.cert!, { maxCertificates: 1 }), [leaf.der])
    assert.equal(element.chain, undefined)
    assert.equal(element.subject, 'CN=api-client.contoso.com')
    assert.deepEqual(element.uri, ['spiffe://contoso.com/api-client'])
    assert.deepEqual(element.dns, ['api-client.contoso.com'])
    // Byte for byte what the test kit's Envoy model writes for the same certificate.
    assert.equal(result.stdout, `${xfccHeader(leaf, { chain: false })}\n`)
  })

  it('adds --chain and --by', async () => {
    const by = 'spiffe://aca/ingress'
    const result = await cli(['xfcc', paths.der, '--chain', paths.chain, '--by', by])
    assert.equal(result.code, 0, result.stderr)
    const element = parseXfcc(result.stdout)[0]!
    assert.deepEqual(element.by, [by])
    assert.deepEqual(decodeCertificates(element.chain!, { maxCertificates: 5 }), [
      leaf.der,
      pki.intermediate.der,
    ])
    assert.equal(result.stdout, `${xfccHeader(leaf, { by: [by] })}\n`)
  })

  it('output fed back to inspect gives the same thumbprint and a matching Hash', async () => {
    const header = await cli(['xfcc', paths.pem])
    const file = join(dir, 'roundtrip.txt')
    await writeFile(file, header.stdout)
    const result = await cli(['inspect', file])
    assert.equal(field(result.stdout, 'SHA-256'), leaf.thumbprint)
    assert.equal(field(result.stdout, 'XFCC Hash'), 'matches the certificate')
  })

  it('refuses an XFCC value or garbage as the certificate', async () => {
    assertOneLineError(await cli(['xfcc', paths.garbage]), 1, /^certgate: ERR_CERT_MALFORMED: /)
  })
})

describe('certgate pki', () => {
  it('writes a root, an intermediate and client certificates with matching keys', async () => {
    const out = join(dir, 'pki-ec')
    const result = await cli(['pki', out, '--cn', 'api-client.contoso.com', '--cn', 'batch job'])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stderr, '')
    const files = (await readdir(out)).sort()
    const expected = ['ca.pem', 'intermediate.pem']
    for (const name of ['api-client.contoso.com', 'batch job']) {
      expected.push(`${name}.pem`, `${name}.key.pem`, `${name}.chain.pem`)
      if (hasOpenssl()) expected.push(`${name}.p12`)
    }
    assert.deepEqual(files, expected.sort())

    const root = new x509.X509Certificate(await readFile(join(out, 'ca.pem'), 'utf8'))
    const intermediatePem = await readFile(join(out, 'intermediate.pem'), 'utf8')
    const intermediate = new x509.X509Certificate(intermediatePem)
    assert.equal(await intermediate.verify({ publicKey: root }), true)
    const thumbprints: string[] = []
    for (const name of ['api-client.contoso.com', 'batch job']) {
      const pem = await readFile(join(out, `${name}.pem`), 'utf8')
      const cert = new x509.X509Certificate(pem)
      assert.equal(cert.subjectName.getField('CN')[0], name)
      assert.equal(await cert.verify({ publicKey: intermediate }), true)
      assert.equal(await cert.verify({ publicKey: root }), false)
      const keyPem = await readFile(join(out, `${name}.key.pem`), 'utf8')
      assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/)
      assert.equal(await keyMatchesCertificate(keyPem, cert), true)
      const chain = await readFile(join(out, `${name}.chain.pem`), 'utf8')
      assert.equal(chain, pem + intermediatePem)
      const thumbprint = (await readClientCertificate(new Uint8Array(cert.rawData))).thumbprint
      assert.ok(result.stdout.includes(`  ${name}  ${thumbprint}\n`))
      thumbprints.push(thumbprint)
    }
    assert.ok(result.stdout.includes(`\nALLOWED_CERT_THUMBPRINTS=${thumbprints.join(',')}\n`))
    if (hasOpenssl()) {
      assert.match(result.stdout, /passphrase: certgate/)
      const p12 = join(out, 'api-client.contoso.com.p12')
      const args = ['pkcs12', '-in', p12, '-passin', 'pass:certgate', '-nokeys', '-clcerts']
      const certs = x509.PemConverter.decode(String(execFileSync('openssl', args)))
      assert.equal(new x509.X509Certificate(certs[0]!).subject, 'CN=api-client.contoso.com')
    }
  })

  it('defaults to one api-client.contoso.com client, RSA keys with --rsa', async () => {
    const out = join(dir, 'pki-rsa')
    const result = await cli(['pki', out, '--rsa'])
    assert.equal(result.code, 0, result.stderr)
    const pem = await readFile(join(out, 'api-client.contoso.com.pem'), 'utf8')
    const cert = new x509.X509Certificate(pem)
    assert.equal(cert.publicKey.algorithm.name, 'RSASSA-PKCS1-v1_5')
    const keyPem = await readFile(join(out, 'api-client.contoso.com.key.pem'), 'utf8')
    assert.equal(await keyMatchesCertificate(keyPem, cert), true)
  })

  it('skips PKCS#12 with a one-line note when openssl is not on PATH', async () => {
    const out = join(dir, 'pki-no-openssl')
    const result = await cli(['pki', out], { env: { PATH: join(dir, 'no-such-bin') } })
    assert.equal(result.code, 0, result.stderr)
    assert.ok(!(await readdir(out)).some((f) => f.endsWith('.p12')))
    const notes = result.stdout.split('\n').filter((l) => l.includes('PKCS#12'))
    assert.deepEqual(notes, ['  (PKCS#12 files skipped: openssl is not on PATH)'])
  })

  it('refuses a directory that is not empty, and a --cn that is not a file name', async () => {
    assertOneLineError(await cli(['pki', dir]), 1, /^certgate: .* exists and is not empty/)
    const evil = await cli(['pki', join(dir, 'x'), '--cn', '../evil'])
    assertOneLineError(evil, 2, /--cn '\.\.\/evil'/)
    assertOneLineError(await cli(['pki', join(dir, 'y'), '--cn', 'ca']), 2, /reserved/)
  })
})

describe('usage and errors', () => {
  it('prints usage on stderr with exit 2 when called with no arguments', async () => {
    const result = await cli([])
    assert.equal(result.code, 2)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /^Usage: certgate <command>/)
  })

  it('prints usage on stdout for --help, -h and help', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['inspect', '--help']]) {
      const result = await cli(argv)
      assert.equal(result.code, 0)
      assert.equal(result.stderr, '')
      assert.match(result.stdout, /^Usage: certgate <command>/)
      assert.match(result.stdout, /inspect <file>/)
      assert.match(result.stdout, /xfcc <cert\.pem>/)
      assert.match(result.stdout, /pki <dir>/)
    }
  })

  it('fails an unknown command with exit 2, as every usage error', async () => {
    const result = await cli(['frobnicate'])
    assertOneLineError(result, 2, /^certgate: unknown command 'frobnicate'/)
    assert.equal(
      result.stderr,
      "certgate: unknown command 'frobnicate'. Run 'certgate --help' for usage.\n"
    )
  })

  it('documents the exit statuses and --version in the usage text', async () => {
    const { stdout } = await cli(['--help'])
    assert.ok(
      stdout.includes(
        'Exit status: 0 success, 1 failure (unreadable file, bad certificate, openssl error),\n' +
          '2 usage error (unknown command or option, missing or extra argument).\n'
      ),
      stdout
    )
    assert.match(stdout, /\n {2}-V, --version {3}Print certgate's version\.\n/)
    assert.match(stdout, /'-' as a file reads standard input/)
  })

  it('fails usage errors with exit 2', async () => {
    assertOneLineError(await cli(['inspect']), 2, /^certgate: inspect takes exactly one file/)
    assertOneLineError(await cli(['inspect', 'a', 'b']), 2, /exactly one file/)
    assertOneLineError(await cli(['inspect', paths.pem, '--bogus']), 2, /Unknown option '--bogus'/)
    assertOneLineError(await cli(['xfcc', paths.pem, '--chain']), 2, /^certgate: Option '--chain/)
    assertOneLineError(await cli(['--bogus']), 2, /Unknown option '--bogus'/)
  })

  it('fails a missing file with exit 1', async () => {
    const missing = join(dir, 'missing.pem')
    assertOneLineError(
      await cli(['inspect', missing]),
      1,
      new RegExp(`^certgate: cannot read ${missing.replace(/[.\\]/g, '\\$&')}: no such file\\n$`)
    )
    assertOneLineError(await cli(['xfcc', paths.pem, '--chain', missing]), 1, /no such file/)
  })

  it('fails garbage with exit 1 and the error code', async () => {
    assertOneLineError(await cli(['inspect', paths.garbage]), 1, /^certgate: ERR_HEADER_MALFORMED: /)
    assertOneLineError(
      await cli(['inspect', paths.binary]),
      1,
      /^certgate: ERR_CERT_MALFORMED: The client certificate could not be parsed\.\n$/
    )
    const empty = await cli(['inspect', paths.empty])
    assertOneLineError(empty, 1, /^certgate: .*empty\.pem is empty\n$/)
    const noCert = join(dir, 'no-cert.txt')
    await writeFile(noCert, 'Hash=abcd;Subject="CN=x"')
    assertOneLineError(await cli(['inspect', noCert]), 1, /^certgate: ERR_CERT_MISSING: /)
  })
})

describe('CLI hygiene', () => {
  const packageJson = fileURLToPath(new URL('../package.json', import.meta.url))

  it('--version and -V print certgate <version> from package.json and exit 0', async () => {
    const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string }
    for (const flag of ['--version', '-V']) {
      const result = await cli([flag])
      assert.deepEqual(result, { code: 0, stdout: `certgate ${version}\n`, stderr: '' })
    }
  })

  it('inspect - reads the certificate from standard input', async () => {
    const fromFile = await cli(['inspect', paths.pem])
    const fromStdin = await cli(['inspect', '-'], { stdin: leaf.pem })
    assert.deepEqual(fromStdin, fromFile)
    const der = await cli(['inspect', '-'], { stdin: leaf.der })
    assert.equal(der.code, 0, der.stderr)
    assert.equal(field(der.stdout, 'Read from'), 'DER')
    assert.equal(field(der.stdout, 'SHA-256'), leaf.thumbprint)
    const header = await cli(['inspect', '-'], { stdin: await readFile(paths.xfcc, 'utf8') })
    assert.equal(header.stdout, (await cli(['inspect', paths.xfcc])).stdout)
  })

  it('inspect - and xfcc - name standard input in their errors', async () => {
    assertOneLineError(
      await cli(['inspect', '-'], { stdin: '' }),
      1,
      /^certgate: standard input is empty\n$/
    )
    assertOneLineError(
      await cli(['xfcc', '-'], { stdin: 'Subject="CN=x"' }),
      1,
      /^certgate: ERR_CERT_MALFORMED: standard input holds no PEM or DER certificate\.\n$/
    )
    assertOneLineError(
      await cli(['inspect', '-'], { stdin: 'hello, this is not a certificate' }),
      1,
      /^certgate: ERR_HEADER_MALFORMED: standard input is not a PEM or DER certificate, nor an XFCC value: /
    )
  })

  it('refuses input over 1 MiB from standard input or a file, exit 1', async () => {
    const big = new Uint8Array(1024 * 1024 + 1).fill(0x41)
    assert.deepEqual(await cli(['inspect', '-'], { stdin: big }), {
      code: 1,
      stdout: '',
      stderr: 'certgate: standard input is larger than 1 MiB\n',
    })
    const file = join(dir, 'big.pem')
    await writeFile(file, big)
    assert.deepEqual(await cli(['xfcc', file]), {
      code: 1,
      stdout: '',
      stderr: `certgate: ${file} is larger than 1 MiB\n`,
    })
  })

  it('xfcc - reads the certificate from standard input; --chain - the chain', async () => {
    const expected = await cli(['xfcc', paths.pem, '--chain', paths.chain])
    assert.equal(expected.code, 0, expected.stderr)
    const leafFromStdin = await cli(['xfcc', '-', '--chain', paths.chain], { stdin: leaf.pem })
    assert.deepEqual(leafFromStdin, expected)
    const chainFromStdin = await cli(['xfcc', paths.pem, '--chain', '-'], {
      stdin: leaf.pem + pki.intermediate.pem,
    })
    assert.deepEqual(chainFromStdin, expected)
  })

  it('xfcc refuses - for both the certificate and --chain, exit 2', async () => {
    assertOneLineError(
      await cli(['xfcc', '-', '--chain', '-'], { stdin: leaf.pem }),
      2,
      /^certgate: standard input can be read only once: give '-' for the certificate or for --chain, not both\. Run 'certgate --help' for usage\.\n$/
    )
  })

  it('inspect shows the extended key usages by name, unknown ones as dotted OIDs', async () => {
    const cases: Array<[string[] | null, string]> = [
      [['1.3.6.1.5.5.7.3.2'], 'clientAuth'],
      [
        ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.4', '1.2.3.4.5'],
        'serverAuth, clientAuth, emailProtection, 1.2.3.4.5',
      ],
      [
        ['1.3.6.1.5.5.7.3.3', '1.3.6.1.5.5.7.3.8', '1.3.6.1.5.5.7.3.9', '2.5.29.37.0'],
        'codeSigning, timeStamping, OCSPSigning, anyExtendedKeyUsage',
      ],
      [null, 'none (extension absent)'],
    ]
    for (const [extendedKeyUsages, expected] of cases) {
      const cert = await pki.issue({ commonName: 'eku', extendedKeyUsages })
      const result = await cli(['inspect', '-'], { stdin: cert.pem })
      assert.equal(result.code, 0, result.stderr)
      assert.equal(field(result.stdout, 'Extended key usage'), expected)
    }
  })

  it('pki: openssl gets the passphrase from its environment, never its argv', {
    skip: !hasOpenssl(),
  }, async () => {
    const out = join(dir, 'pki-argv')
    const calls: Array<{ file: string; args: readonly string[]; env: Record<string, string | undefined> }> = []
    const spy: RunProgram = async (file, args, options) => {
      calls.push({ file, args, env: options.env })
      return runProgram(file, args, options)
    }
    const result = await cli(['pki', out], { runProgram: spy })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(calls.length, 1)
    const [{ file, args, env }] = calls as [(typeof calls)[0]]
    assert.equal(file, 'openssl')
    assert.deepEqual(args.slice(args.indexOf('-passout'), args.indexOf('-passout') + 2), [
      '-passout',
      'env:CERTGATE_P12_PASSPHRASE',
    ])
    assert.deepEqual(args.filter((arg) => /pass:|^certgate$|:certgate$/.test(arg)), [])
    assert.equal(env.CERTGATE_P12_PASSPHRASE, 'certgate')
    assert.equal(process.env.CERTGATE_P12_PASSPHRASE, undefined)
    // openssl writes the PKCS#12 to its stdout; certgate creates the file.
    assert.equal(args.includes('-out'), false)
    const p12 = join(out, 'api-client.contoso.com.p12')
    const certs = execFileSync('openssl', ['pkcs12', '-in', p12, '-passin', 'pass:certgate', '-nokeys'])
    assert.match(String(certs), /BEGIN CERTIFICATE/)
  })

  it('pki: the PKCS#12 file is created with mode 0600, never wider', {
    skip: !hasOpenssl() || process.platform === 'win32',
  }, async () => {
    const out = join(dir, 'pki-mode')
    const seen: string[][] = []
    const spy: RunProgram = async (file, args, options) => {
      // While openssl runs, no .p12 exists in any mode.
      seen.push((await readdir(out)).filter((f) => f.endsWith('.p12')))
      return runProgram(file, args, options)
    }
    const result = await cli(['pki', out, '--cn', 'a', '--cn', 'b'], { runProgram: spy })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual(seen, [[], ['a.p12']])
    for (const name of ['a.p12', 'b.p12', 'a.key.pem', 'b.key.pem']) {
      assert.equal((await stat(join(out, name))).mode & 0o777, 0o600, name)
    }
  })

  it('pki: no PKCS#12 file is left when openssl fails', async () => {
    const out = join(dir, 'pki-openssl-fails')
    const failing: RunProgram = () =>
      Promise.resolve({ ok: false, reason: 'openssl failed: unable to load private key' })
    const result = await cli(['pki', out], { runProgram: failing })
    assert.equal(result.code, 0, result.stderr)
    assert.deepEqual((await readdir(out)).filter((f) => f.endsWith('.p12')), [])
    const notes = result.stdout.split('\n').filter((l) => l.includes('PKCS#12'))
    assert.deepEqual(notes, ['  (PKCS#12 files skipped: openssl failed: unable to load private key)'])
  })
})

describe('the certgate executable', () => {
  it('runs main and exits with its status', { skip: !isNode }, async () => {
    const script = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
    const run = (args: string[], stdin = ''): Promise<CliResult> =>
      new Promise((resolve) => {
        const argv = ['--import', 'tsx', script, ...args]
        const child = execFile(process.execPath, argv, (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
          resolve({ code, stdout: String(stdout), stderr: String(stderr) })
        })
        child.stdin?.end(stdin)
      })
    const ok = await run(['inspect', paths.pem])
    assert.equal(ok.code, 0, ok.stderr)
    assert.ok(ok.stdout.includes(`\nALLOWED_CERT_THUMBPRINTS=${leaf.thumbprint}\n`))
    const bad = await run(['inspect', paths.garbage])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^certgate: ERR_HEADER_MALFORMED: [^\n]+\n$/)
    const piped = await run(['inspect', '-'], leaf.pem)
    assert.equal(piped.code, 0, piped.stderr)
    assert.equal(piped.stdout, ok.stdout)
    const unknown = await run(['frobnicate'])
    assert.equal(unknown.code, 2)
    const version = await run(['--version'])
    assert.equal(version.code, 0, version.stderr)
    assert.match(version.stdout, /^certgate \d+\.\d+\.\d+\S*\n$/)
  })
})
