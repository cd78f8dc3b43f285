/**
 * certgate as a new user gets it: `npm pack`, then a fresh `npm init -y` project (CommonJS, as
 * npm makes it) that installs the tarball with hono 4.6 and @hono/node-server 1.x. It gets one
 * hono, the README's Hono quick start compiles (strict) and answers 200 and a coded 403 (so
 * Hono's `instanceof HTTPException` sees certgate's refusal), `require()` loads every entry
 * point, `certgate/node` serves on the older node-server, and `x509()` names the optional
 * packages until they are installed. A project asking for nothing else gets certgate alone.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestPki, type TestCertificate, xfccHeader } from '../../src/testing/index.ts'
import {
  bin,
  buildPackage,
  type BuiltPackage,
  childEnv,
  mustRun,
  npm,
  packPackage,
  readJson,
  registrySkip,
  removeDir,
} from '../support/package.ts'
import { readmeBlock } from '../support/readme.ts'

const skip = await registrySkip()
const INSTALL = { timeout: 240_000 }
const BOUNDED = { timeout: 60_000 }

/** Runs a script in the consumer project with its Node; its stdout parsed as JSON. */
async function runJson<T>(dir: string, file: string, env: Record<string, string> = {}): Promise<T> {
  const out = await mustRun(process.execPath, [file], { cwd: dir, env: childEnv(env), timeoutMs: 30_000 })
  return JSON.parse(out) as T
}

function tsconfig(dir: string, files: string[], skipLibCheck: boolean): void {
  const compilerOptions = {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    lib: ['es2023', 'dom'],
    types: [],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck,
    outDir: 'out',
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }, null, 2))
}

/** Every installed copy of a package, nested ones included. */
function copiesOf(root: string, name: string): string[] {
  const found: string[] = []
  const walk = (modules: string): void => {
    if (!existsSync(modules)) return
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue
      const scoped = entry.startsWith('@') ? readdirSync(join(modules, entry)).map((n) => `${entry}/${n}`) : [entry]
      for (const pkg of scoped) {
        const dir = join(modules, pkg)
        if (pkg === name) found.push(dir)
        walk(join(dir, 'node_modules'))
      }
    }
  }
  walk(join(root, 'node_modules'))
  return found
}

function sizeOf(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.size
  return readdirSync(path).reduce((sum, entry) => sum + sizeOf(join(path, entry)), 0)
}

describe('a consumer project on hono 4.6, from the packed tarball', { skip }, () => {
  let built: BuiltPackage
  let app: string
  let bare: string
  let allowed: TestCertificate
  let other: TestCertificate

  before(async () => {
    built = await buildPackage()
    const packed = await packPackage(built)
    app = mkdtempSync(join(tmpdir(), 'certgate-consumer-'))
    bare = mkdtempSync(join(tmpdir(), 'certgate-bare-'))
    const install = async (dir: string, packages: string[]): Promise<void> => {
      await npm(['init', '-y'], dir)
      await npm(['install', '--prefer-offline', packed.tarball, ...packages], dir, 180_000)
    }
    await Promise.all([install(app, ['hono@4.6', '@hono/node-server@^1.19']), install(bare, [])])
    const pki = await createTestPki()
    allowed = await pki.issue({ commonName: 'api-client.contoso.com' })
    other = await pki.issue({ commonName: 'someone-else.contoso.com' })
  }, INSTALL)
  after(() => {
    for (const dir of [app, bare, built?.dir]) if (dir) removeDir(dir)
  })

  it('installs certgate alone where nothing else is asked for: no hono, no @peculiar/x509, no valibot', () => {
    const installed = readdirSync(join(bare, 'node_modules')).filter((name) => !name.startsWith('.'))
    assert.deepEqual(installed, ['certgate'])
    console.log(`install size: ${(sizeOf(join(bare, 'node_modules')) / 1024).toFixed(1)} KB in node_modules`)
  })

  it('runs the certgate CLI’s inspect without the optional packages', BOUNDED, async () => {
    writeFileSync(join(bare, 'client.pem'), allowed.pem)
    const out = await mustRun(join(bare, 'node_modules', '.bin', 'certgate'), ['inspect', 'client.pem'], {
      cwd: bare,
      env: childEnv(),
      timeoutMs: 30_000,
    })
    assert.match(out, new RegExp(allowed.thumbprint))
  })

  it('is a CommonJS project, as `npm init -y` makes it', () => {
    assert.equal(readJson<{ type?: string }>(join(app, 'package.json')).type ?? 'commonjs', 'commonjs')
  })

  it('has exactly one hono: the app’s 4.6, none nested inside certgate', () => {
    const copies = copiesOf(app, 'hono')
    assert.deepEqual(copies, [join(app, 'node_modules', 'hono')])
    assert.match(readJson<{ version: string }>(join(copies[0]!, 'package.json')).version, /^4\.6\./)
    assert.ok(!existsSync(join(app, 'node_modules', 'certgate', 'node_modules')))
  })

  it('compiles the README’s Hono quick start under strict settings', BOUNDED, async () => {
    writeFileSync(join(app, 'app.mts'), readmeBlock('Hono quick start').code)
    tsconfig(app, ['app.mts'], true)
    await mustRun(bin('tsc'), ['-p', '.'], { cwd: app, timeoutMs: 60_000 })
    assert.ok(existsSync(join(app, 'out', 'app.mjs')))
  })

  it('answers 200 with the certificate, and 403 problem+json for a refusal, not a 500', BOUNDED, async () => {
    writeFileSync(
      join(app, 'quick-start.mjs'),
      `import app from './out/app.mjs'
const answer = async (res) => ({ status: res.status, type: res.headers.get('content-type'), body: await res.json() })
const get = (xfcc) => app.request('/api/cert-info', { headers: xfcc ? { 'x-forwarded-client-cert': xfcc } : {} })
console.log(JSON.stringify({
  allowed: await answer(await get(process.env.ALLOWED)),
  other: await answer(await get(process.env.OTHER)),
  none: await answer(await get()),
}))
`
    )
    type Answer = { status: number; type: string; body: { thumbprint?: string; code?: string } }
    const result = await runJson<Record<'allowed' | 'other' | 'none', Answer>>(app, 'quick-start.mjs', {
      ALLOWED: xfccHeader(allowed),
      OTHER: xfccHeader(other),
    })
    assert.equal(result.allowed.status, 200)
    assert.equal(result.allowed.body.thumbprint, allowed.thumbprint)
    assert.deepEqual([result.other.status, result.other.type, result.other.body.code], [403, 'application/problem+json', 'ERR_CERT_NOT_ALLOWED'])
    assert.deepEqual([result.none.status, result.none.body.code], [403, 'ERR_CERT_MISSING'])
  })

  it('loads every entry point through require() (Node ≥ 20.19), and types them for a .cts file', BOUNDED, async () => {
    writeFileSync(
      join(app, 'require.js'),
      `const certgate = require('certgate')
const hono = require('certgate/hono')
const node = require('certgate/node')
console.log(JSON.stringify([typeof certgate.withClientCert, typeof hono.clientCert, typeof node.serve]))
`
    )
    assert.deepEqual(await runJson<string[]>(app, 'require.js'), ['function', 'function', 'function'])
    writeFileSync(
      join(app, 'typed.cts'),
      `import certgate = require('certgate')
import hono = require('certgate/hono')
export const handler = certgate.withClientCert((_request, cert) => Response.json(cert), { allow: 'any-valid' })
export const middleware = hono.clientCert({ allow: { commonNames: ['api-client.contoso.com'] } })
`
    )
    tsconfig(app, ['typed.cts'], true)
    await mustRun(bin('tsc'), ['-p', '.'], { cwd: app, timeoutMs: 60_000 })
  })

  it('serves the app with certgate/node on @hono/node-server 1.x', BOUNDED, async () => {
    writeFileSync(
      join(app, 'serve.mjs'),
      `import { serve } from 'certgate/node'
import app from './out/app.mjs'
const handle = serve(app, { port: 0, hostname: '127.0.0.1', signals: [], exit: false, onListen: async ({ port }) => {
  const get = (xfcc) => fetch('http://127.0.0.1:' + port + '/api/cert-info', { headers: xfcc ? { 'x-forwarded-client-cert': xfcc } : {} })
  const statuses = [(await get(process.env.ALLOWED)).status, (await get()).status]
  await handle.close()
  console.log(JSON.stringify(statuses))
} })
`
    )
    assert.deepEqual(await runJson<number[]>(app, 'serve.mjs', { ALLOWED: xfccHeader(allowed) }), [200, 403])
  })

  it('x509() names the optional packages to install until they are there', BOUNDED, async () => {
    const script = `import { readClientCertificate } from 'certgate'
const cert = await readClientCertificate(new Uint8Array(Buffer.from(process.env.DER, 'base64')))
try {
  const x509 = await cert.x509()
  console.log(JSON.stringify({ subject: x509.subject }))
} catch (error) {
  console.log(JSON.stringify({ error: error.message }))
}
`
    writeFileSync(join(app, 'x509.mjs'), script)
    const env = { DER: Buffer.from(allowed.der).toString('base64') }
    assert.deepEqual(await runJson(app, 'x509.mjs', env), {
      error:
        'ClientCertificate.x509() needs the optional packages @peculiar/x509 and reflect-metadata: ' +
        'npm install @peculiar/x509 reflect-metadata',
    })
    await npm(['install', '--prefer-offline', '@peculiar/x509@^2.2.0', 'reflect-metadata@^0.2.2'], app, 180_000)
    assert.deepEqual(await runJson(app, 'x509.mjs', env), { subject: 'CN=api-client.contoso.com' })
  })

  it('with the optional packages, the test kit loads through require() and every type checks without skipLibCheck', BOUNDED, async () => {
    writeFileSync(
      join(app, 'testing.js'),
      `const { createTestPki, xfccHeader } = require('certgate/testing')
createTestPki().then(async (pki) => {
  const client = await pki.issue({ commonName: 'api-client.contoso.com' })
  console.log(JSON.stringify(xfccHeader(client).startsWith('Hash=')))
})
`
    )
    assert.equal(await runJson<boolean>(app, 'testing.js'), true)
    tsconfig(app, ['app.mts', 'typed.cts'], false)
    await mustRun(bin('tsc'), ['-p', '.', '--noEmit'], { cwd: app, timeoutMs: 60_000 })
  })
})
