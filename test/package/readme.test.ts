/**
 * README.md's TypeScript examples are checked code. Every ```ts block is type-checked against the
 * built package (dist/, installed as node_modules/certgate) under strict settings; what the prose
 * around a fragment supplies (the quick start's `app`, your CA's `caPem`, a `crlPem`) is declared
 * for it. The blocks that compile without those declarations are self-contained, and run: the
 * Hono quick start and the fetch handler answer real requests (the latter through
 * `serve({ fetch: handler })`, stopped by SIGTERM), others must simply finish without an error.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestPki, type TestCertificate, xfccHeader } from '../../src/testing/index.ts'
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
} from '../support/package.ts'
import { type ReadmeBlock, readmeBlocks } from '../support/readme.ts'

// What the prose supplies to the fragments. A block that declares the same name shadows it.
const CONTEXT = `import type { Hono } from 'hono'
import type { ClientCertEnv } from 'certgate/hono'

declare global {
  /** The app of the Hono quick start. */
  const app: Hono<ClientCertEnv>
  /** Your CA certificates, PEM. */
  const caPem: string
  /** A CRL, PEM. */
  const crlPem: string
}
`

// What the README says of the types, as code: the quick start's comment and the prose after it.
const CLAIMS = `import type { ClientCertificate } from 'certgate'
import { Hono } from 'hono'
import { clientCert, type ClientCertEnv, type ClientCertVariables } from 'certgate/hono'

const required = new Hono<ClientCertEnv>()
required.use(clientCert({ allow: { commonNames: ['api-client.contoso.com'] } }))
required.get('/', (c) => {
  const cert: ClientCertificate = c.var.clientCert
  return c.text(cert.thumbprint)
})
const accepting = new Hono<ClientCertEnv<'accept'>>()
accepting.use(clientCert({ allow: { commonNames: ['api-client.contoso.com'] }, mode: 'accept' }))
accepting.get('/', (c) => {
  // @ts-expect-error in accept mode there may be no certificate
  const cert: ClientCertificate = c.var.clientCert
  return c.text(cert.thumbprint)
})
const mixed = new Hono<{ Variables: ClientCertVariables }>()
mixed.get('/', (c) => c.text(c.var.clientCert?.thumbprint ?? 'none'))
export { accepting, mixed, required }
`

const COMPILER_OPTIONS = {
  target: 'es2022',
  lib: ['es2023', 'dom', 'dom.iterable'],
  module: 'nodenext',
  moduleResolution: 'nodenext',
  types: ['node'],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  noFallthroughCasesInSwitch: true,
  // Our declaration files are checked too, not trusted.
  skipLibCheck: false,
  allowImportingTsExtensions: true,
  rewriteRelativeImportExtensions: true,
  outDir: 'out',
  rootDir: '.',
}

// The blocks that run and what they must answer; any other self-contained block must finish.
interface Expected {
  path: string
  allowed: [number, string | null]
  none: [number, string | null]
}
const ANSWERS: Record<string, Expected> = {
  'Hono quick start': { path: '/api/cert-info', allowed: [200, null], none: [403, 'ERR_CERT_MISSING'] },
  'Any fetch handler (Bun, Deno, Node, Workers)': {
    path: '/',
    allowed: [403, 'ERR_CERT_NOT_ALLOWED'],
    none: [403, 'ERR_CERT_MISSING'],
  },
  'Express quick start': { path: '/api/cert-info', allowed: [200, null], none: [403, 'ERR_CERT_MISSING'] },
  'Fastify quick start': { path: '/api/cert-info', allowed: [200, null], none: [403, 'ERR_CERT_MISSING'] },
}

// Runs one compiled block: a default export with `fetch` (a Hono app, a Worker) gets the requests
// directly; a block that starts listening on PORT gets them over HTTP, then SIGTERM.
const HARNESS = `import { pathToFileURL } from 'node:url'
const requests = JSON.parse(process.env.REQUESTS ?? '[]')
const mod = await import(pathToFileURL(process.argv[2]).href)
const headers = (xfcc) => (xfcc ? { 'x-forwarded-client-cert': xfcc } : {})
async function ask(send) {
  const answers = {}
  for (const r of requests) {
    const res = await send(r)
    const text = await res.text()
    let code = null
    try { code = JSON.parse(text).code ?? null } catch {}
    answers[r.name] = [res.status, code]
  }
  return answers
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const serving = () => process.getActiveResourcesInfo().includes('TCPServerWrap')
if (typeof mod.default?.fetch === 'function') {
  console.log(JSON.stringify({ answers: await ask((r) => mod.default.fetch(new Request('http://localhost' + r.path, { headers: headers(r.xfcc) }))) }))
} else {
  for (let i = 0; i < 20 && !serving(); i++) await sleep(25)
  if (!serving()) console.log(JSON.stringify({ answers: null }))
  else {
    let answers
    for (let i = 0; i < 100 && answers === undefined; i++) {
      try {
        answers = await ask((r) => fetch('http://127.0.0.1:' + process.env.PORT + r.path, { headers: headers(r.xfcc) }))
      } catch {
        await sleep(50)
      }
    }
    console.log(JSON.stringify({ answers, served: true }))
    process.kill(process.pid, 'SIGTERM')
  }
}
`

interface Example {
  block: ReadmeBlock
  file: string
}

/** tsc's errors by file, each with its README line. */
function errorsByFile(output: string, examples: readonly Example[]): Map<string, string[]> {
  const found = new Map<string, string[]>()
  for (const match of output.matchAll(/^([^\s(]+)\((\d+),(\d+)\): (error TS\d+: .*)$/gm)) {
    const [, file, line, , message] = match as unknown as [string, string, string, string, string]
    const example = examples.find((e) => e.file === file)
    const where = example ? `README.md:${example.block.line + Number(line)} (${example.block.heading})` : file
    found.set(file, [...(found.get(file) ?? []), `${where}: ${message}`])
  }
  return found
}

describe('README examples', { skip: onceAcrossNodes('it runs tsc on the built package and node on the examples') }, () => {
  let built: BuiltPackage
  let project: string
  let examples: Example[]
  let selfContained: Example[]
  let allowed: TestCertificate

  before(async () => {
    built = await buildPackage()
    // The package resolves its own imports (hono, …) from this repository's node_modules.
    symlinkSync(join(ROOT, 'node_modules'), join(built.dir, 'node_modules'), 'dir')
    project = mkdtempSync(join(tmpdir(), 'certgate-readme-'))
    const modules = join(project, 'node_modules')
    mkdirSync(modules)
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (!name.startsWith('.')) symlinkSync(join(ROOT, 'node_modules', name), join(modules, name), 'dir')
    }
    symlinkSync(built.dir, join(modules, 'certgate'), 'dir')
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module' }))

    const blocks = readmeBlocks().filter((block) => block.lang === 'ts')
    examples = blocks.map((block, i) => ({ block, file: `example-${i + 1}.ts` }))
    for (const { block, file } of examples) {
      // A block without import or export is a script to tsc; each must be a module of its own.
      const isModule = /^\s*(import|export)\s/m.test(block.code)
      writeFileSync(join(project, file), isModule ? block.code : `${block.code}export {}\n`)
    }
    const quickStart = examples.find((e) => e.block.heading === 'Hono quick start')
    assert.ok(quickStart, 'README has a Hono quick start')
    // Blocks import the quick start's app as './app.ts'.
    writeFileSync(join(project, 'app.ts'), quickStart.block.code)
    writeFileSync(join(project, 'claims.ts'), CLAIMS)
    writeFileSync(join(project, 'readme-context.d.ts'), CONTEXT)
    writeFileSync(join(project, 'harness.mjs'), HARNESS)

    const pki = await createTestPki()
    allowed = await pki.issue({ commonName: 'api-client.contoso.com' })
  })
  after(() => {
    if (project) removeDir(project)
    if (built) removeDir(built.dir)
  })

  async function tsc(files: string[], emit: boolean): Promise<string> {
    const compilerOptions = { ...COMPILER_OPTIONS, noEmit: !emit }
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }, null, 2))
    const result = await run(bin('tsc'), ['-p', '.'], { cwd: project, timeoutMs: 120_000 })
    return result.stdout + result.stderr
  }

  it('has TypeScript examples, the quick start first', () => {
    assert.ok(examples.length >= 5, `${examples.length} blocks`)
    assert.equal(examples[0]!.block.heading, 'Hono quick start')
  })

  it('type-checks every ts block against the built package, strict, declarations included', { timeout: 120_000 }, async () => {
    const files = ['readme-context.d.ts', 'app.ts', 'claims.ts', ...examples.map((e) => e.file)]
    const errors = errorsByFile(await tsc(files, true), examples)
    assert.deepEqual([...errors.values()].flat(), [])
  })

  it('runs every self-contained block (one that needs nothing from the prose)', { timeout: 120_000 }, async () => {
    const errors = errorsByFile(await tsc(['app.ts', ...examples.map((e) => e.file)], false), examples)
    selfContained = examples.filter((e) => !errors.has(e.file))
    const runnable = selfContained.map((e) => e.block.heading)
    for (const heading of Object.keys(ANSWERS)) assert.ok(runnable.includes(heading), `${heading} runs`)
    console.log(`running: ${runnable.join('; ')}`)

    for (const { block, file } of selfContained) {
      const expected = ANSWERS[block.heading]
      const path = expected?.path ?? '/'
      const requests = [
        { name: 'allowed', path, xfcc: xfccHeader(allowed) },
        { name: 'none', path, xfcc: null },
      ]
      const port = await freePort()
      const result = await run(process.execPath, ['harness.mjs', join('out', file.replace(/\.ts$/, '.js'))], {
        cwd: project,
        env: childEnv({ PORT: String(port), REQUESTS: JSON.stringify(requests) }),
        timeoutMs: 60_000,
      })
      const where = `README.md:${block.line} (${block.heading})`
      assert.equal(result.code, 0, `${where} exited ${result.code}: ${result.stderr}`)
      if (expected === undefined) continue
      const { answers } = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as {
        answers: Record<string, [number, string | null]> | null
      }
      assert.deepEqual(answers, { allowed: expected.allowed, none: expected.none }, where)
    }
  })
})
