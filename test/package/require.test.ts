/**
 * Every entry point of the built package loads through `require()` (Node's require of ES
 * modules: 20.19 and later, 22.12 and later) and through `import`, on each Node version `npm test`
 * runs: from a CommonJS project whose node_modules/certgate is the built package, its peers this
 * repository's. A module with a top-level await anywhere below an entry point would make
 * `require()` throw ERR_REQUIRE_ASYNC_MODULE.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BuiltPackage, buildPackage, childEnv, mustRun, nodeOnly, removeDir, ROOT } from '../support/package.ts'

const ENTRIES = {
  certgate: 'withClientCert',
  'certgate/hono': 'clientCert',
  'certgate/node': 'serve',
  'certgate/testing': 'createTestPki',
} as const

describe('require() and import of every entry point on this Node', { skip: nodeOnly('it loads the built package in node') }, () => {
  let built: BuiltPackage
  let project: string

  before(async () => {
    built = await buildPackage()
    symlinkSync(join(ROOT, 'node_modules'), join(built.dir, 'node_modules'), 'dir')
    project = mkdtempSync(join(tmpdir(), 'certgate-require-'))
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'commonjs' }))
    mkdirSync(join(project, 'node_modules'))
    symlinkSync(built.dir, join(project, 'node_modules', 'certgate'), 'dir')
  })
  after(() => {
    if (project) removeDir(project)
    if (built) removeDir(built.dir)
  })

  const load = async (file: string, code: string): Promise<Record<string, string>> => {
    writeFileSync(join(project, file), code)
    const out = await mustRun(process.execPath, [file], { cwd: project, env: childEnv(), timeoutMs: 30_000 })
    return JSON.parse(out) as Record<string, string>
  }
  const expected = Object.fromEntries(Object.keys(ENTRIES).map((entry) => [entry, 'function']))

  it(`require() from a CommonJS file (Node ${process.versions.node})`, { timeout: 60_000 }, async () => {
    const lines = Object.entries(ENTRIES).map(([entry, name]) => `  ${JSON.stringify(entry)}: typeof require(${JSON.stringify(entry)}).${name},`)
    assert.deepEqual(await load('require.cjs', `console.log(JSON.stringify({\n${lines.join('\n')}\n}))\n`), expected)
  })

  it(`import from an ES module (Node ${process.versions.node})`, { timeout: 60_000 }, async () => {
    const lines = Object.entries(ENTRIES).map(([entry, name]) => `  ${JSON.stringify(entry)}: typeof (await import(${JSON.stringify(entry)})).${name},`)
    assert.deepEqual(await load('import.mjs', `console.log(JSON.stringify({\n${lines.join('\n')}\n}))\n`), expected)
  })
})
