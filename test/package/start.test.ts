/**
 * Starting the reference service: `npm start` runs what was built and never compiles (it says
 * to run `npm run build` when dist/ is missing), and `deno task start` runs after `npm ci`, which
 * puts the npm `deno` package in node_modules/.bin.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../support/loopback.ts'
import {
  bin,
  type BuiltPackage,
  buildPackage,
  childEnv,
  onceAcrossNodes,
  removeDir,
  ROOT,
  run,
  type Running,
  start,
} from '../support/package.ts'

const CONFIG = { ALLOWED_CERT_COMMON_NAMES: 'api-client.contoso.com' }

async function health(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/health`)).status
}

describe('npm start', { skip: onceAcrossNodes('it runs npm and the built service') }, () => {
  let built: BuiltPackage
  let service: Running | undefined

  before(async () => {
    built = await buildPackage()
    mkdirSync(join(built.dir, 'scripts'))
    copyFileSync(join(ROOT, 'scripts', 'start.mjs'), join(built.dir, 'scripts', 'start.mjs'))
    // The service's own packages (valibot among them) are this repository's dev dependencies.
    symlinkSync(join(ROOT, 'node_modules'), join(built.dir, 'node_modules'), 'dir')
  })
  after(async () => {
    await service?.stop()
    if (built) removeDir(built.dir)
  })

  it('says to run `npm run build` when dist/ is missing, and exits 1', { timeout: 30_000 }, async () => {
    const bare = mkdtempSync(join(tmpdir(), 'certgate-start-'))
    try {
      mkdirSync(join(bare, 'scripts'))
      copyFileSync(join(ROOT, 'scripts', 'start.mjs'), join(bare, 'scripts', 'start.mjs'))
      const result = await run(process.execPath, ['scripts/start.mjs'], { cwd: bare, timeoutMs: 20_000 })
      assert.equal(result.code, 1)
      assert.equal(result.stderr, 'certgate: dist/service/main.js is missing; run `npm run build` first.\n')
    } finally {
      removeDir(bare)
    }
  })

  it('runs the built service as it is, compiling nothing', { timeout: 60_000 }, async () => {
    const before = statSync(join(built.dir, 'dist', 'service', 'main.js')).mtimeMs
    const port = await freePort()
    service = start('npm', ['start'], { cwd: built.dir, env: childEnv({ ...CONFIG, PORT: String(port) }) })
    await service.waitFor(/certgate service listening on/, 30_000)
    assert.equal(await health(port), 200)
    assert.doesNotMatch(service.output(), /\btsc\b|npm run build/)
    assert.equal(statSync(join(built.dir, 'dist', 'service', 'main.js')).mtimeMs, before)
    await service.stop()
    service = undefined
  })
})

describe('deno task start', { skip: onceAcrossNodes('it spawns deno') }, () => {
  let service: Running | undefined
  after(async () => {
    await service?.stop()
  })

  it('starts the service with node_modules/.bin/deno present', { timeout: 90_000 }, async () => {
    const port = await freePort()
    service = start(bin('deno'), ['task', 'start'], {
      cwd: ROOT,
      env: childEnv({ ...CONFIG, PORT: String(port), HOST: '127.0.0.1', NO_COLOR: '1' }),
    })
    await service.waitFor(/certgate service listening on/, 60_000)
    assert.equal(await health(port), 200)
    assert.equal(await service.stop(), 0)
    service = undefined
  })
})
