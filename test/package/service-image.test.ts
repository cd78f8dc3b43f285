/**
 * The Dockerfile, without Docker: its rules (a supported LTS image, a build stage that installs
 * only what the bundle needs, a runtime stage of one file and node), the .dockerignore keeping
 * keys and secrets out of the build context, and its steps replayed — the build stage's COPY and
 * RUN lines in a scratch directory, then the runtime stage's COPY --from, ENV and CMD in another
 * one with no node_modules anywhere above it — answering 200, 403 and stopping on SIGTERM. Both
 * run on the image's Node version when `npm test` has it in tools/node-versions.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { createTestPki, type TestCertificate, xfccHeader } from '../../src/testing/index.ts'
import { freePort } from '../support/loopback.ts'
import { childEnv, mustRun, onceAcrossNodes, removeDir, ROOT, type Running, start } from '../support/package.ts'

interface Instruction {
  stage: string
  op: string
  args: string
}

/** The Dockerfile's instructions, continuation lines joined, comments dropped, by stage. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = []
  let stage = ''
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const match = /^\s*([A-Z]+)\s+(.*)$/.exec(line)
    if (match === null || line.trimStart().startsWith('#')) continue
    const [, op, args] = match as unknown as [string, string, string]
    if (op === 'FROM') stage = / AS (\S+)$/i.exec(args)?.[1] ?? 'runtime'
    out.push({ stage, op, args: args.trim() })
  }
  return out
}

/** Docker's .dockerignore semantics, as far as these patterns need: `*`, `**`, a path prefix. */
function ignoredBy(patterns: readonly string[], path: string): boolean {
  return patterns.some((pattern) => {
    const body = pattern
      .replace(/^\/|\/$/g, '')
      .split('/')
      .map((part) => (part === '**' ? '(?:[^/]+/)*' : `${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}/`))
      .join('')
      .replace(/\/$/, '')
    // A pattern that names a directory keeps out everything inside it.
    return new RegExp(`^${body}(?:/.*)?$`).test(path)
  })
}

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const STEPS = instructions(DOCKERFILE)
/** The Node of the image's FROM line when tools/node-versions has it (as `npm test` installs), else this one. */
function imageNode(): string {
  const major = /^node:(\d+)/.exec(STEPS.find((step) => step.op === 'FROM')!.args)?.[1]
  const candidate = join(ROOT, 'tools', 'node-versions', 'node_modules', `node${major}`, 'bin', 'node')
  return existsSync(candidate) ? candidate : process.execPath
}

/** The environment of a RUN line: the image's Node first on PATH. */
function imageEnv(node: string): NodeJS.ProcessEnv {
  const env = childEnv()
  env.PATH = [dirname(node), env.PATH ?? ''].join(delimiter)
  return env
}

const IGNORE = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))

describe('Dockerfile and .dockerignore', () => {
  it('builds on a supported LTS image (Node 24 or 26) in both stages', () => {
    const images = STEPS.filter((step) => step.op === 'FROM').map((step) => step.args.split(/\s+/)[0])
    assert.equal(images.length, 2)
    for (const image of images) assert.match(image!, /^node:(24|26)(-slim)?$/)
  })

  it('installs no bun, deno or TypeScript compiler to build, and nothing at all to run', () => {
    const install = STEPS.filter((step) => step.stage === 'build' && step.op === 'RUN' && /npm ci/.test(step.args))
    assert.equal(install.length, 1)
    assert.match(install[0]!.args, /--omit=optional/)
    assert.match(install[0]!.args, /--ignore-scripts/)
    const runtime = STEPS.filter((step) => step.stage === 'runtime')
    assert.deepEqual(runtime.filter((step) => step.op === 'RUN'), [])
    assert.ok(runtime.some((step) => step.op === 'USER' && step.args === 'node'))
  })

  it('keeps private keys, secrets and the tools out of the build context', () => {
    for (const path of [
      'dev-pki/api-client.contoso.com.key.pem',
      'dev-pki/root-ca.pem',
      'dev-pki/api-client.contoso.com.p12',
      'client.key',
      'some/where/server.key',
      'deep/client.p12',
      '.env',
      'src/.env',
      'tools/node-versions/package.json',
      'node_modules/hono/package.json',
    ]) {
      assert.ok(ignoredBy(IGNORE, path), `${path} is kept out`)
    }
    for (const path of ['package.json', 'package-lock.json', 'scripts/build-service.ts', 'src/index.ts']) {
      assert.ok(!ignoredBy(IGNORE, path), `${path} is in the context`)
    }
  })

  it('copies from the context only what the context has', () => {
    for (const step of STEPS.filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'))) {
      const sources = step.args.split(/\s+/).slice(0, -1)
      for (const source of sources) {
        assert.ok(existsSync(join(ROOT, source)), source)
        assert.ok(!ignoredBy(IGNORE, source), `${source} is not dockerignored`)
      }
    }
  })
})

describe('the Dockerfile replayed', { skip: onceAcrossNodes('it runs npm ci and the bundled service') }, () => {
  let scratch: string
  let service: Running | undefined
  let allowed: TestCertificate
  let other: TestCertificate

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'certgate-image-'))
    const pki = await createTestPki()
    allowed = await pki.issue({ commonName: 'api-client.contoso.com' })
    other = await pki.issue({ commonName: 'someone-else.contoso.com' })
  })
  after(async () => {
    await service?.stop()
    removeDir(scratch)
  })

  it('the build stage, its commands as written, makes one file', { timeout: 300_000 }, async () => {
    const work = join(scratch, 'build')
    for (const step of STEPS.filter((s) => s.stage === 'build')) {
      if (step.op === 'WORKDIR') mkdirSync(work, { recursive: true })
      if (step.op === 'COPY') {
        const parts = step.args.split(/\s+/)
        const target = resolve(work, parts.at(-1)!)
        const intoDirectory = parts.length > 2 || parts.at(-1)!.endsWith('/')
        for (const source of parts.slice(0, -1)) {
          const into = intoDirectory ? join(target, source.split('/').at(-1)!) : target
          mkdirSync(dirname(into), { recursive: true })
          cpSync(join(ROOT, source), into, { recursive: true })
        }
      }
      if (step.op === 'RUN') await mustRun('sh', ['-c', step.args], { cwd: work, env: imageEnv(imageNode()), timeoutMs: 240_000 })
    }
    // What the install brought: no bun, deno or TypeScript platform binaries.
    const scoped = (scope: string): string[] =>
      existsSync(join(work, 'node_modules', scope)) ? readdirSync(join(work, 'node_modules', scope)) : []
    assert.deepEqual([...scoped('@oven'), ...scoped('@deno')], [])
    assert.deepEqual(scoped('@typescript').filter((name) => name.startsWith('native-preview-')), [])
    assert.ok(existsSync(join(work, 'dist-service', 'main.mjs')))
  })

  it('the runtime stage runs the file with node alone: 200, 403, and exit 0 on SIGTERM', { timeout: 60_000 }, async () => {
    const runtime = STEPS.filter((s) => s.stage === 'runtime')
    const app = join(scratch, 'runtime', 'app')
    mkdirSync(app, { recursive: true })
    const env: Record<string, string> = {}
    for (const step of runtime) {
      if (step.op === 'COPY') {
        const [, from, to] = /^--from=build\s+(\S+)\s+(\S+)$/.exec(step.args)!
        cpSync(join(scratch, 'build', from!.replace(/^\/app\//, '')), resolve(app, to!))
      }
      if (step.op === 'ENV') {
        const [key, value] = step.args.split('=')
        env[key!] = value!
      }
    }
    for (let dir = app; dir !== dirname(dir); dir = dirname(dir)) {
      assert.ok(!existsSync(join(dir, 'node_modules')), `no node_modules in ${dir}`)
    }
    const cmd = JSON.parse(runtime.find((s) => s.op === 'CMD')!.args) as string[]
    assert.equal(cmd[0], 'node')
    const port = await freePort()
    service = start(imageNode(), cmd.slice(1), {
      cwd: app,
      env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), ALLOWED_CERT_THUMBPRINTS: allowed.thumbprint },
    })
    await service.waitFor(/listening on/, 20_000)
    const base = `http://127.0.0.1:${port}`
    assert.equal((await fetch(`${base}/health`)).status, 200)
    const ok = await fetch(`${base}/cert-info`, { headers: { 'x-forwarded-client-cert': xfccHeader(allowed) } })
    assert.equal(ok.status, 200)
    assert.equal(((await ok.json()) as { thumbprint: string }).thumbprint, allowed.thumbprint)
    const refused = await fetch(`${base}/cert-info`, { headers: { 'x-forwarded-client-cert': xfccHeader(other) } })
    assert.equal(refused.status, 403)
    assert.equal(((await refused.json()) as { code: string }).code, 'ERR_CERT_NOT_ALLOWED')
    assert.equal(await service.stop(), 0)
    service = undefined
  })
})
