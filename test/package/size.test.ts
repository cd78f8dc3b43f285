/**
 * `npm run size` on the built package: a Worker that uses only `withClientCert` bundles (esbuild,
 * minified, as Wrangler would) without any peer — no hono, and no @peculiar/x509, which only
 * `x509()` and the test kit load — without the chain-validation engine, which only
 * createTrustVerifier links, and within 64 KiB; the same Worker with `trust` is measured too.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type BuiltPackage, buildPackage, type Finished, onceAcrossNodes, removeDir, run } from '../support/package.ts'

const LIMIT = 64 * 1024

describe('npm run size', { skip: onceAcrossNodes('it runs tsc and esbuild') }, () => {
  let built: BuiltPackage
  let result: Finished
  let bytes: number
  let trustingBytes: number
  before(async () => {
    built = await buildPackage()
    result = await run(process.execPath, ['--import', 'tsx', 'scripts/bundle-size.ts', built.dir], { timeoutMs: 60_000 })
    console.log(result.stdout + result.stderr)
    bytes = Number(/^Worker bundle \(withClientCert only\): .*?\((\d+) bytes\)/m.exec(result.stdout)?.[1] ?? NaN)
    trustingBytes = Number(
      /^Worker bundle \(withClientCert \+ createTrustVerifier\): .*?\((\d+) bytes\)/m.exec(result.stdout)?.[1] ?? NaN
    )
  })
  after(() => built && removeDir(built.dir))

  it('bundles a withClientCert-only Worker with no peer inside, and prints its size', () => {
    assert.match(result.stdout, /^Worker bundle \(withClientCert only\): [\d.]+ KB minified/m)
    assert.ok(Number.isInteger(bytes), result.stdout)
    assert.doesNotMatch(result.stderr, /carries peers/)
  })

  it('keeps that Worker within 64 KiB, without the chain-validation engine', () => {
    assert.ok(bytes <= LIMIT, `${bytes} bytes`)
    assert.doesNotMatch(result.stderr, /dist\/trust/)
    assert.equal(result.code, 0, result.stderr)
  })

  it('prints what chain validation adds: the same Worker with createTrustVerifier', () => {
    assert.match(result.stdout, /^Worker bundle \(withClientCert \+ createTrustVerifier\): .* chain validation adds [\d.]+ KB/m)
    assert.ok(Number.isInteger(trustingBytes), result.stdout)
    // The engine is there: path search, checks, revocation, signatures.
    assert.ok(trustingBytes > bytes + 16 * 1024, `${trustingBytes} bytes with trust, ${bytes} without`)
  })

  it('says to build first when there is no dist/', { timeout: 30_000 }, async () => {
    const missing = await run(process.execPath, ['--import', 'tsx', 'scripts/bundle-size.ts', '/nonexistent-package'], {
      timeoutMs: 30_000,
    })
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /dist is missing: run `npm run build` first\./)
  })
})
