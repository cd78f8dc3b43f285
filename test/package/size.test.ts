/**
 * `npm run size` on the built package: a Worker that uses only `withClientCert` bundles (esbuild,
 * minified, as Wrangler would) to at most 64 KiB, and carries no peer — no hono, and no
 * @peculiar/x509, which only `x509()` and the test kit load.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { type BuiltPackage, buildPackage, onceAcrossNodes, removeDir, run } from '../support/package.ts'

describe('npm run size', { skip: onceAcrossNodes('it runs tsc and esbuild') }, () => {
  let built: BuiltPackage
  before(async () => {
    built = await buildPackage()
  })
  after(() => built && removeDir(built.dir))

  it('bundles a withClientCert-only Worker within 64 KiB, with no peer inside', { timeout: 60_000 }, async () => {
    const result = await run(process.execPath, ['--import', 'tsx', 'scripts/bundle-size.ts', built.dir], {
      timeoutMs: 60_000,
    })
    console.log(result.stdout + result.stderr)
    assert.match(result.stdout, /^Worker bundle \(withClientCert only\): [\d.]+ KB minified/m)
    assert.doesNotMatch(result.stderr, /carries peers/)
    const bytes = Number(/^bytes: (\d+)$/m.exec(result.stdout)?.[1] ?? NaN)
    assert.equal(result.code, 0, result.stderr)
    assert.ok(bytes <= 64 * 1024, `${bytes} bytes`)
  })

  it('says to build first when there is no dist/', { timeout: 30_000 }, async () => {
    const result = await run(process.execPath, ['--import', 'tsx', 'scripts/bundle-size.ts', '/nonexistent-package'], {
      timeoutMs: 30_000,
    })
    assert.equal(result.code, 1)
    assert.match(result.stderr, /dist is missing: run `npm run build` first\./)
  })
})
