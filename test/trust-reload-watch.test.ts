/**
 * watchTrustFiles with real files: a CA bundle replaced by a rename and overwritten in place,
 * a torn write never applied, garbage and a missing file keeping the previous material (and
 * reported once, naming the file), CRL files replaced and warned about before they go stale
 * (a fake clock), and the timer driving it all, closed at the end.
 * @module
 */
import 'reflect-metadata'
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type ClientCertVerifier,
  createClientCertVerifier,
  createTrustVerifier,
  readCaBundle,
  readClientCertificate,
  trustFileContents,
  type TrustFilesWatcher,
  watchTrustFiles,
  type WatchTrustFilesOptions,
} from '../src/index.ts'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../src/testing/index.ts'
import { createTestCrl } from './support/pki.ts'

const HOUR_MS = 60 * 60 * 1000

async function outcome(verify: ClientCertVerifier, leaf: TestCertificate): Promise<string> {
  const request = new Request('http://localhost/', { headers: { 'x-forwarded-client-cert': xfccHeader(leaf) } })
  const result = await verify(request)
  return result.ok ? `ok ${result.certificate?.commonName}` : result.error.code
}

const read = (path: string): Uint8Array => new Uint8Array(readFileSync(path))

/** A file written whole under another name, then renamed over `path`: how secret volumes change. */
function replaceByRename(path: string, text: string): void {
  writeFileSync(`${path}.new`, text)
  renameSync(`${path}.new`, path)
}

describe('trust reload: watchTrustFiles', () => {
  let dir: string
  let pki: TestPki
  let pki2: TestPki
  let bundle1: string
  let bundle12: string
  const watchers: TrustFilesWatcher[] = []

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'certgate-watch-'))
    ;[pki, pki2] = await Promise.all([createTestPki(), createTestPki()])
    bundle1 = `${pki.root.pem}\n${pki.intermediate.pem}\n`
    bundle12 = `${bundle1}${pki2.intermediate.pem}\n${pki2.root.pem}\n`
  })

  after(() => {
    for (const watcher of watchers) watcher.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** A verifier built from a bundle file, its pipeline, and a watcher on the file. */
  function setUp(name: string, options: Partial<WatchTrustFilesOptions> = {}) {
    const path = join(dir, name)
    writeFileSync(path, bundle1)
    const trust = createTrustVerifier(readCaBundle(trustFileContents(read(path))))
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    const errors: string[] = []
    const reloads: Array<{ version: number; files: string[] }> = []
    const watcher = watchTrustFiles(trust, {
      bundles: [path],
      readFile: read,
      // Long enough that only check() polls, unless a test says otherwise.
      intervalMs: 60_000,
      onError: (error, file) => errors.push(`${file}: ${error.message}`),
      onReload: (event) => reloads.push(event),
      ...options,
    })
    watchers.push(watcher)
    return { path, trust, verify, watcher, errors, reloads }
  }

  it('a bundle replaced by a rename, then overwritten in place, is taken after two polls read it the same', async () => {
    const { path, trust, verify, watcher, errors, reloads } = setUp('rename.pem')
    const leaf2 = await pki2.issue({ commonName: 'ca2' })
    assert.equal(await watcher.check(), false)
    assert.equal(await outcome(verify, leaf2), 'ERR_CERT_UNTRUSTED')
    replaceByRename(path, bundle12)
    assert.equal(await watcher.check(), false, 'first sight: not yet')
    assert.equal(await watcher.check(), true)
    assert.equal(trust.version, 1)
    assert.deepEqual(reloads, [{ version: 1, files: [path] }])
    assert.equal(await outcome(verify, leaf2), 'ok ca2')
    assert.equal(await watcher.check(), false, 'unchanged')
    writeFileSync(path, bundle1)
    assert.equal(await watcher.check(), false)
    assert.equal(await watcher.check(), true)
    assert.equal(trust.version, 2)
    assert.equal(await outcome(verify, leaf2), 'ERR_CERT_UNTRUSTED')
    assert.equal(await outcome(verify, await pki.issue({ commonName: 'ca1' })), 'ok ca1')
    assert.deepEqual(errors, [])
  })

  it('a torn in-place write (cut between two certificates, so it parses) is never applied', async () => {
    const { path, trust, verify, watcher, errors } = setUp('torn.pem')
    const leaf1 = await pki.issue({ commonName: 'ca1' })
    const leaf2 = await pki2.issue({ commonName: 'ca2' })
    await watcher.check()
    const whole = `${pki2.root.pem}\n${pki2.intermediate.pem}\n${bundle1}`
    // The writer has put down CA2 only so far: applied, it would cut CA1's clients off.
    writeFileSync(path, `${pki2.root.pem}\n${pki2.intermediate.pem}\n`)
    assert.equal(await watcher.check(), false)
    assert.equal(await outcome(verify, leaf1), 'ok ca1')
    writeFileSync(path, whole)
    assert.equal(await watcher.check(), false, 'not the bytes the last poll read')
    assert.equal(await outcome(verify, leaf1), 'ok ca1')
    assert.equal(await watcher.check(), true)
    assert.equal(trust.version, 1)
    assert.equal(await outcome(verify, leaf1), 'ok ca1')
    assert.equal(await outcome(verify, leaf2), 'ok ca2')
    assert.deepEqual(errors, [])
  })

  it('garbage or a missing file keeps all the previous material; onError names the file, once per problem', async () => {
    const { path, trust, verify, watcher, errors, reloads } = setUp('garbage.pem')
    const leaf1 = await pki.issue({ commonName: 'ca1' })
    await watcher.check()
    writeFileSync(path, 'this is not a certificate\n')
    assert.equal(await watcher.check(), false)
    assert.equal(await watcher.check(), false)
    assert.equal(await watcher.check(), false)
    assert.deepEqual(errors, [`${path}: CA bundle certificate 1 is not a parsable X.509 certificate.`])
    assert.equal(trust.version, 0)
    assert.equal(await outcome(verify, leaf1), 'ok ca1')
    rmSync(path)
    assert.equal(await watcher.check(), false)
    assert.equal(await watcher.check(), false)
    assert.equal(errors.length, 2)
    assert.match(errors[1]!, new RegExp(`^${path.replace(/[\\.]/g, '\\$&')}: .*ENOENT`))
    assert.equal(await outcome(verify, leaf1), 'ok ca1')
    // Back as it was: nothing to change, nothing to say.
    writeFileSync(path, bundle1)
    assert.equal(await watcher.check(), false)
    assert.equal(await watcher.check(), false)
    assert.equal(trust.version, 0)
    assert.equal(errors.length, 2)
    assert.deepEqual(reloads, [])
  })

  it('without onError, a bad file is one line on console.error naming it', async () => {
    const lines: unknown[][] = []
    const original = console.error
    console.error = (...args: unknown[]) => void lines.push(args)
    try {
      const { path, watcher } = setUp('default-log.pem', { onError: undefined })
      await watcher.check()
      writeFileSync(path, '-----BEGIN CERTIFICATE-----\nAAAA\n')
      await watcher.check()
      await watcher.check()
      assert.equal(lines.length, 1)
      assert.equal(lines[0]!.length, 1)
      const line = String(lines[0]![0])
      assert.ok(line.startsWith(`certgate: trust file ${JSON.stringify(path)} not used, previous material kept: `), line)
      assert.ok(!line.includes('\n'), line)
    } finally {
      console.error = original
    }
  })

  it('a CRL file replaced with one revoking a leaf is applied; onCrlExpiring fires once per CRL, also when past', async () => {
    const leaf = await pki.issue({ commonName: 'crl-leaf' })
    const realNow = Date.now()
    const first = await createTestCrl({
      issuer: pki.intermediate,
      thisUpdate: new Date(realNow - HOUR_MS),
      nextUpdate: new Date(realNow + 3 * HOUR_MS),
    })
    const crlPath = join(dir, 'int.crl')
    writeFileSync(crlPath, first.der)
    const trust = createTrustVerifier({ ...readCaBundle(bundle1), crls: [read(crlPath)] })
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    let now = realNow
    const expiring: Array<{ path: string; issuer: string; nextUpdate: Date }> = []
    const errors: string[] = []
    const watcher = watchTrustFiles(trust, {
      crls: [crlPath],
      readFile: read,
      intervalMs: 60_000,
      now: () => now,
      onCrlExpiring: (event) => expiring.push(event),
      onError: (error, file) => errors.push(`${file}: ${error.message}`),
    })
    watchers.push(watcher)
    await watcher.check()
    assert.deepEqual([...expiring], [])
    assert.equal(await outcome(verify, leaf), 'ok crl-leaf')
    // A 4-hour CRL is warned about an hour (a quarter of its life) before its nextUpdate.
    now = realNow + 2 * HOUR_MS - 1000
    await watcher.check()
    assert.deepEqual([...expiring], [])
    now = realNow + 2 * HOUR_MS + 1000
    await watcher.check()
    await watcher.check()
    const issuer = (await readClientCertificate(leaf.der)).issuer
    assert.deepEqual([...expiring], [{ path: crlPath, issuer, nextUpdate: new Date(Math.floor((realNow + 3 * HOUR_MS) / 1000) * 1000) }])
    // Replaced in time, with a CRL (PEM this time) that revokes the leaf.
    const second = await createTestCrl({ issuer: pki.intermediate, revoked: [leaf], crlNumber: 2 })
    replaceByRename(crlPath, second.pem)
    assert.equal(await watcher.check(), false)
    assert.equal(await watcher.check(), true)
    assert.equal(await outcome(verify, leaf), 'ERR_CERT_REVOKED')
    assert.equal([...expiring].length, 1, 'the new CRL is not near its nextUpdate')
    now = realNow + 48 * HOUR_MS
    await watcher.check()
    // A CRL already past its nextUpdate is reported too.
    assert.deepEqual(expiring.slice(1), [{ path: crlPath, issuer, nextUpdate: expiring[1]?.nextUpdate }])
    assert.ok(expiring[1]!.nextUpdate.getTime() > realNow + 20 * HOUR_MS)
    assert.deepEqual(errors, [])
  })

  it('a bad bundle does not hold back a good CRL; a file missing at the first poll is applied once it appears', async () => {
    const leaf = await pki.issue({ commonName: 'crl-leaf' })
    const leaf2 = await pki2.issue({ commonName: 'ca2' })
    const bundlePath = join(dir, 'independent.pem')
    const crlPath = join(dir, 'independent.crl')
    writeFileSync(bundlePath, bundle1)
    const trust = createTrustVerifier(readCaBundle(bundle1))
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    const errors: string[] = []
    const reloads: string[][] = []
    const watcher = watchTrustFiles(trust, {
      bundles: [bundlePath],
      crls: [crlPath],
      readFile: read,
      intervalMs: 60_000,
      onError: (_error, file) => errors.push(file),
      onReload: ({ files }) => reloads.push(files),
    })
    watchers.push(watcher)
    assert.equal(await watcher.check(), false)
    assert.deepEqual(errors, [crlPath], 'the CRL file does not exist yet')
    writeFileSync(bundlePath, 'garbage')
    writeFileSync(crlPath, (await createTestCrl({ issuer: pki.intermediate, revoked: [leaf] })).pem)
    assert.equal(await watcher.check(), false)
    assert.equal(await watcher.check(), true)
    assert.deepEqual(errors, [crlPath, bundlePath])
    assert.deepEqual(reloads, [[crlPath]])
    assert.equal(await outcome(verify, leaf), 'ERR_CERT_REVOKED')
    assert.equal(await outcome(verify, await pki.issue({ commonName: 'ca1' })), 'ok ca1')
    writeFileSync(bundlePath, bundle12)
    await watcher.check()
    assert.equal(await watcher.check(), true)
    assert.deepEqual(reloads, [[crlPath], [bundlePath]])
    assert.equal(await outcome(verify, leaf2), 'ok ca2')
    assert.equal(await outcome(verify, leaf), 'ERR_CERT_REVOKED', 'the CRL stays when the bundle changes')
    watcher.close()
  })

  it('the timer polls on its own and close() stops it', async () => {
    let resolveReload: (event: { version: number; files: string[] }) => void = () => {}
    const reloaded = new Promise<{ version: number; files: string[] }>((resolve) => (resolveReload = resolve))
    const { path, trust, verify, watcher } = setUp('timer.pem', { intervalMs: 100, onReload: (e) => resolveReload(e) })
    const leaf2 = await pki2.issue({ commonName: 'ca2' })
    let timeout: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => reject(new Error('no reload within 5 s')), 5000)
    })
    // Let the first poll take the baseline before the file changes.
    await new Promise((resolve) => setTimeout(resolve, 250))
    replaceByRename(path, bundle12)
    try {
      assert.deepEqual(await Promise.race([reloaded, deadline]), { version: 1, files: [path] })
    } finally {
      clearTimeout(timeout)
    }
    assert.equal(await outcome(verify, leaf2), 'ok ca2')
    watcher.close()
    watcher.close()
    writeFileSync(path, bundle1)
    await new Promise((resolve) => setTimeout(resolve, 350))
    assert.equal(trust.version, 1, 'closed: no more polls')
    assert.equal(await watcher.check(), false)
  })

  it('DER files, roots and intermediates files, and bad options', async () => {
    const rootPath = join(dir, 'root.der')
    const intPath = join(dir, 'int.pem')
    writeFileSync(rootPath, pki.root.der)
    writeFileSync(intPath, pki.intermediate.pem)
    const trust = createTrustVerifier({ roots: [pki.root.der], intermediates: [pki.intermediate.pem] })
    const verify = createClientCertVerifier({ allow: 'any-valid', trust })
    const watcher = watchTrustFiles(trust, { roots: [rootPath], intermediates: [intPath], readFile: read, intervalMs: 60_000 })
    watchers.push(watcher)
    await watcher.check()
    writeFileSync(rootPath, pki2.root.der)
    writeFileSync(intPath, `${pki.intermediate.pem}${pki2.intermediate.pem}`)
    await watcher.check()
    assert.equal(await watcher.check(), true)
    // Only CA2's root now: CA1's intermediate stays configured but leads nowhere.
    assert.equal(await outcome(verify, await pki2.issue({ commonName: 'leaf-of-ca2' })), 'ok leaf-of-ca2')
    assert.equal(await outcome(verify, await pki.issue({ commonName: 'leaf-of-ca1' })), 'ERR_CERT_UNTRUSTED')
    watcher.close()
    const base = { readFile: read, bundles: [rootPath] }
    const bad: Array<[unknown, string]> = [
      [{ bundles: [rootPath] }, 'watchTrustFiles: readFile must be a function.'],
      [{ readFile: read }, 'watchTrustFiles: no file to watch.'],
      [{ ...base, crls: 'x.crl' }, 'watchTrustFiles: crls must be an array of file paths.'],
      [{ ...base, intervalMs: 0 }, 'watchTrustFiles: intervalMs must be a number of at least 10.'],
      [{ ...base, crlWarningMs: -1 }, 'watchTrustFiles: crlWarningMs must be a non-negative number.'],
      [{ ...base, onError: 'log' }, 'watchTrustFiles: onError must be a function.'],
    ]
    for (const [options, message] of bad) {
      assert.throws(() => watchTrustFiles(trust, options as WatchTrustFilesOptions), { name: 'TypeError', message })
    }
  })
})
