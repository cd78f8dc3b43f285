/**
 * JSR: `deno publish --dry-run` passes (name, version, license, exports, and no global
 * augmentation, which JSR refuses), and publishes the library's sources only — not the CLI,
 * the reference service, tests or tools.
 * @module
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { bin, childEnv, IN_CI, onceAcrossNodes, ROOT, run } from '../support/package.ts'

// What deno prints when it cannot fetch what the check needs; anywhere but CI that is a skip.
const UNREACHABLE = /error sending request|dns error|failed to lookup|Connection refused|timed out/i

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [relative(ROOT, path)] : []
  })
}

// The Express and Fastify adapters type `req.clientCert` the only way those frameworks offer, by
// augmenting their types, which JSR refuses: they are published on npm only (deno.json excludes
// them, with the module they alone use).
const NPM_ONLY = ['src/adapters/express.ts', 'src/adapters/fastify.ts', 'src/adapters/incoming.ts']

describe('JSR', () => {
  it('has no ambient module augmentation or global declaration in the published sources', () => {
    const found = sources(join(ROOT, 'src'))
      .filter((file) => !/^src\/(cli|service)\//.test(file) && !NPM_ONLY.includes(file))
      .filter((file) => /^\s*declare\s+(module\s+['"]|global\b)/m.test(readFileSync(join(ROOT, file), 'utf8')))
    assert.deepEqual(found, [])
  })

  it('deno publish --dry-run passes and lists only the library', { skip: onceAcrossNodes('it spawns deno'), timeout: 240_000 }, async (t) => {
    const result = await run(bin('deno'), ['publish', '--dry-run', '--allow-dirty'], {
      env: childEnv({ NO_COLOR: '1' }),
      timeoutMs: 230_000,
    })
    const output = result.stdout + result.stderr
    if (result.code !== 0 && UNREACHABLE.test(output) && !IN_CI) {
      return t.skip(`deno could not reach what the check needs: ${UNREACHABLE.exec(output)![0]}`)
    }
    assert.equal(result.code, 0, output)
    assert.match(output, /Success Dry run complete/)
    assert.doesNotMatch(output, /^error/m)
    const files = [...output.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map((m) => relative(ROOT, m[1]!)).sort()
    assert.ok(files.includes('src/index.ts') && files.includes('src/adapters/hono.ts'), files.join(' '))
    assert.deepEqual(
      files.filter((file) => !(['LICENSE', 'README.md', 'deno.json'].includes(file) || /^src\/.*\.ts$/.test(file))),
      []
    )
    assert.deepEqual(files.filter((file) => /^src\/(cli|service)\//.test(file) || NPM_ONLY.includes(file)), [])
  })
})
