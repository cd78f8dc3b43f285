/**
 * Trust material reloading in the real service process (Node entry) on loopback, with
 * TRUST_RELOAD_SECONDS=1: a CA bundle replaced by a rename and overwritten in place is used
 * within 15 s by the same process; garbage keeps the previous bundle and logs one error line
 * naming the file; a CRL file replaced with one revoking the leaf refuses it; a CRL about to go
 * stale, replaced in time, refuses nobody in between. And the log: each refused request wrote
 * exactly one JSON line with its code and path, and nothing anywhere holds the certificate or
 * the header.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestPki, type TestCertificate, type TestPki, xfccHeader } from '../../src/testing/index.ts'
import { onceAcrossNodes } from '../support/package.ts'
import { createTestCrl } from '../support/pki.ts'
import { type LogLine, ROOT, type ServiceProcess, startServiceProcess } from '../support/service-process.ts'

const RUNTIME = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node'
const skip = RUNTIME === 'node' ? false : `spawns node itself, so it runs once, under Node (this is ${RUNTIME})`
const ALLOWED_CN = 'api-client.contoso.com'
const WITHIN_MS = 15_000
const TEST = { timeout: 40_000 }
// The stale-soon CRL's nextUpdate, counted from when the suite starts its services.
const STALE_AFTER_MS = 22_000

/** One request the test sent, and what came back. */
interface Sent {
  status: number
  code: string | null
  cert: TestCertificate
}

describe('service reloads its trust files', { skip, timeout: 120_000 }, () => {
  let dir: string
  let pkiA: TestPki
  let pkiB: TestPki
  let pkiC: TestPki
  let leafA: TestCertificate
  let leafB: TestCertificate
  let leafC: TestCertificate
  let bundles: ServiceProcess
  let crls: ServiceProcess
  let staleAt: number
  const sent = new Map<ServiceProcess, Sent[]>()

  const caFile = (): string => join(dir, 'ca.pem')
  const crlFile = (): string => join(dir, 'crl.pem')
  const bundleOf = (pki: TestPki): string => pki.intermediate.pem + pki.root.pem

  /** Replaces `path` as a secret volume does: a new file renamed over the old one. */
  function replaceByRename(path: string, content: string): void {
    const temp = `${path}.${Math.random().toString(36).slice(2)}.tmp`
    writeFileSync(temp, content)
    renameSync(temp, path)
  }

  async function send(service: ServiceProcess, cert: TestCertificate): Promise<Sent> {
    const res = await fetch(`${service.url}/cert-info?sig=query-secret`, {
      headers: { 'x-forwarded-client-cert': xfccHeader(cert) },
    })
    const body = (await res.json()) as { code?: string }
    const result = { status: res.status, code: body.code ?? null, cert }
    sent.get(service)!.push(result)
    return result
  }

  /** Sends `cert` every 200 ms until `done` accepts the answer; fails after {@link WITHIN_MS}. */
  async function until(
    service: ServiceProcess,
    cert: TestCertificate,
    done: (result: Sent) => boolean
  ): Promise<number> {
    const started = Date.now()
    for (;;) {
      const result = await send(service, cert)
      if (done(result)) return Date.now() - started
      assert.ok(Date.now() - started < WITHIN_MS, `not within ${WITHIN_MS} ms: ${JSON.stringify(result.code)}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  function assertRunning(service: ServiceProcess, pid: number | undefined): void {
    assert.equal(service.child.pid, pid)
    assert.equal(service.child.exitCode, null, service.output())
    assert.equal(service.child.signalCode, null)
  }

  before(async () => {
    ;[pkiA, pkiB, pkiC] = await Promise.all([createTestPki(), createTestPki(), createTestPki()])
    ;[leafA, leafB, leafC] = await Promise.all(
      [pkiA, pkiB, pkiC].map((pki) => pki.issue({ commonName: ALLOWED_CN }))
    )
    dir = mkdtempSync(join(tmpdir(), 'certgate-reload-'))
    writeFileSync(caFile(), bundleOf(pkiA))
    staleAt = Date.now() + STALE_AFTER_MS
    const staleSoon = await createTestCrl({
      issuer: pkiA.intermediate,
      thisUpdate: new Date(Date.now() - 3_600_000),
      nextUpdate: new Date(staleAt),
    })
    writeFileSync(crlFile(), staleSoon.pem)
    const common = { ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN, TRUST_RELOAD_SECONDS: '1' }
    ;[bundles, crls] = await Promise.all([
      startServiceProcess({ ...common, TRUSTED_CA_CERTS: caFile() }),
      startServiceProcess({
        ...common,
        // PEM text, not a file: only the CRL file is watched.
        TRUSTED_CA_CERTS: bundleOf(pkiA),
        CRL_FILES: crlFile(),
      }),
    ])
    sent.set(bundles, [])
    sent.set(crls, [])
  })

  after(() => {
    bundles?.kill()
    crls?.kill()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('(a) a CA bundle replaced by a rename: the new CA admitted, same process', TEST, async () => {
    const pid = bundles.child.pid
    assert.equal((await send(bundles, leafA)).status, 200)
    const before = await send(bundles, leafB)
    assert.deepEqual([before.status, before.code], [403, 'ERR_CERT_UNTRUSTED'])
    replaceByRename(caFile(), bundleOf(pkiA) + bundleOf(pkiB))
    await until(bundles, leafB, (result) => result.status === 200)
    assert.equal((await send(bundles, leafA)).status, 200)
    const reloaded = await bundles.waitForLine((line) => line.msg === 'trust material reloaded', 1000)
    assert.equal(reloaded.level, 'info')
    assert.deepEqual(reloaded.files, [caFile()])
    assertRunning(bundles, pid)
  })

  it('(b) a CA bundle overwritten in place: the new CA admitted, the old one gone', TEST, async () => {
    const pid = bundles.child.pid
    assert.equal((await send(bundles, leafC)).status, 403)
    writeFileSync(caFile(), bundleOf(pkiC))
    await until(bundles, leafC, (result) => result.status === 200)
    await until(bundles, leafA, (result) => result.status === 403)
    assert.equal((await send(bundles, leafB)).code, 'ERR_CERT_UNTRUSTED')
    assertRunning(bundles, pid)
  })

  it('(c) garbage in the bundle: the old one keeps working, one error line names the file', TEST, async () => {
    const pid = bundles.child.pid
    writeFileSync(caFile(), 'this is not a certificate bundle\n')
    const failed = await bundles.waitForLine(
      (line) => line.level === 'error' && line.path === caFile(),
      WITHIN_MS
    )
    assert.match(String(failed.msg), /not reloaded/)
    assert.equal(typeof failed.reason, 'string')
    // Polled for longer than two intervals after the report: the previous bundle still rules.
    const until = Date.now() + 2500
    while (Date.now() < until) {
      assert.equal((await send(bundles, leafC)).status, 200)
      assert.equal((await send(bundles, leafA)).status, 403)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    const errors = bundles.lines().filter((line) => line.level === 'error')
    assert.deepEqual(errors.map((line) => line.path), [caFile()])
    assertRunning(bundles, pid)
  })

  it('(e) a CRL about to go stale, replaced in time: nobody refused in between', TEST, async () => {
    const pid = crls.child.pid
    const warned = await crls.waitForLine((line) => line.path === crlFile() && line.level === 'warn', WITHIN_MS)
    assert.match(String(warned.msg), /about to go stale/)
    assert.equal(warned.next_update, new Date(Math.floor(staleAt / 1000) * 1000).toISOString())
    const swapAt = staleAt - 6000
    assert.ok(Date.now() < swapAt, `the services took too long to start (${staleAt - Date.now()} ms left)`)
    // Requests all along: before the swap, while the new file is picked up, and past the old
    // CRL's nextUpdate, after which it alone would refuse every one (no clock tolerance).
    let swapped = false
    while (Date.now() < staleAt + 2000) {
      if (!swapped && Date.now() >= swapAt) {
        const fresh = await createTestCrl({ issuer: pkiA.intermediate, crlNumber: 2 })
        replaceByRename(crlFile(), fresh.pem)
        swapped = true
      }
      const result = await send(crls, leafA)
      assert.deepEqual([result.status, result.code], [200, null])
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assertRunning(crls, pid)
  })

  it('(d) a CRL file replaced with one revoking the leaf: ERR_CERT_REVOKED', TEST, async () => {
    const pid = crls.child.pid
    assert.equal((await send(crls, leafA)).status, 200)
    const revoking = await createTestCrl({ issuer: pkiA.intermediate, revoked: [leafA], crlNumber: 3 })
    replaceByRename(crlFile(), revoking.pem)
    const took = await until(crls, leafA, (result) => result.code === 'ERR_CERT_REVOKED')
    assert.ok(took < WITHIN_MS)
    assertRunning(crls, pid)
  })

  it('(f) each refusal wrote exactly one JSON line with its code and path; no certificate, no header', async () => {
    for (const service of [bundles, crls]) {
      const refusedLines = service.lines().filter((line: LogLine) => line.msg === 'request refused')
      const refusals = sent.get(service)!.filter((result) => result.status === 403)
      assert.ok(refusals.length > 0)
      assert.equal(refusedLines.length, refusals.length)
      refusedLines.forEach((line, i) => {
        assert.equal(line.level, 'warn')
        assert.equal(line.code, refusals[i]!.code)
        assert.equal(line.status, 403)
        assert.equal(line.method, 'GET')
        assert.equal(line.path, '/cert-info')
        assert.equal(line.thumbprint, refusals[i]!.cert.thumbprint)
      })
      const output = service.output()
      for (const cert of [leafA, leafB, leafC]) {
        const base64 = cert.pem.split('\n').filter((line) => !line.startsWith('-----')).join('')
        for (let i = 0; i + 32 <= base64.length; i += 32) {
          assert.ok(!output.includes(base64.slice(i, i + 32)), 'a piece of a certificate was logged')
        }
        assert.ok(!output.includes(xfccHeader(cert)))
      }
      assert.ok(!output.includes('query-secret'))
      assert.ok(!output.includes('BEGIN'))
    }
  })
})

const BUN = join(ROOT, 'node_modules/.bin/bun')
const DENO = join(ROOT, 'node_modules/.bin/deno')
const ENTRIES = [
  { name: 'Bun', command: BUN, args: ['src/service/bun.ts'] },
  { name: 'Deno', command: DENO, args: ['run', '-A', 'src/service/deno.ts'] },
]

describe('the Bun and Deno entries reload too, and stop their watch on SIGTERM', { skip: onceAcrossNodes('it spawns bun and deno') }, () => {
  const started: ServiceProcess[] = []
  const dirs: string[] = []

  after(() => {
    for (const service of started) service.kill()
    for (const path of dirs) rmSync(path, { recursive: true, force: true })
  })

  for (const entry of ENTRIES) {
    const options = { timeout: 40_000, skip: existsSync(entry.command) ? false : `${entry.command} is not installed` }
    it(`${entry.name}: a CA bundle replaced by a rename is used; SIGTERM exits 0`, options, async () => {
      const [pkiA, pkiB] = await Promise.all([createTestPki(), createTestPki()])
      const leafB = await pkiB.issue({ commonName: ALLOWED_CN })
      const dir = mkdtempSync(join(tmpdir(), 'certgate-reload-entry-'))
      dirs.push(dir)
      const ca = join(dir, 'ca.pem')
      writeFileSync(ca, pkiA.intermediate.pem + pkiA.root.pem)
      const service = await startServiceProcess(
        { ALLOWED_CERT_COMMON_NAMES: ALLOWED_CN, TRUST_RELOAD_SECONDS: '1', TRUSTED_CA_CERTS: ca },
        { command: entry.command, args: entry.args }
      )
      started.push(service)
      const headers = { 'x-forwarded-client-cert': xfccHeader(leafB) }
      const first = await fetch(`${service.url}/cert-info`, { headers })
      assert.equal(first.status, 403, await first.text())
      writeFileSync(`${ca}.tmp`, pkiB.intermediate.pem + pkiB.root.pem)
      renameSync(`${ca}.tmp`, ca)
      const startedAt = Date.now()
      for (;;) {
        const res = await fetch(`${service.url}/cert-info`, { headers })
        await res.body?.cancel()
        if (res.status === 200) break
        assert.ok(Date.now() - startedAt < WITHIN_MS, `not within ${WITHIN_MS} ms\n${service.output()}`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      const exited = new Promise((resolve) => service.child.once('exit', (code, signal) => resolve({ code, signal })))
      service.child.kill('SIGTERM')
      assert.deepEqual(await exited, { code: 0, signal: null })
      // Every line JSON, the reload among them.
      assert.ok(service.lines().some((line) => line.msg === 'trust material reloaded'))
    })
  }
})
