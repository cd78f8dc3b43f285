/**
 * What `npm pack` ships and what package.json promises: peers instead of copies, nothing
 * installed for the library's users, exports that `require` can load, a license, no source
 * maps, no reference service, and every import inside dist/ resolvable within the tarball.
 * @module
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, posix } from 'node:path'
import {
  type BuiltPackage,
  buildPackage,
  onceAcrossNodes,
  type PackResult,
  packPackage,
  readJson,
  removeDir,
  ROOT,
} from '../support/package.ts'

interface PackageJson {
  version: string
  license: string
  main: string
  types: string
  repository: { url: string }
  homepage: string
  bugs: { url: string }
  dependencies?: Record<string, string>
  peerDependencies: Record<string, string>
  peerDependenciesMeta: Record<string, { optional?: boolean }>
  devDependencies: Record<string, string>
  exports: Record<string, string | Record<string, string>>
  scripts: Record<string, string>
  bin: Record<string, string>
}

const pkg = readJson<PackageJson>(join(ROOT, 'package.json'))
const PEERS = ['hono', '@hono/node-server', '@peculiar/x509', 'reflect-metadata', 'express', 'fastify']

describe('package.json', () => {
  it('installs nothing for the library: hono, the node server, express, fastify and @peculiar/x509 are optional peers', () => {
    assert.equal(pkg.dependencies, undefined)
    assert.deepEqual(Object.keys(pkg.peerDependencies).sort(), [...PEERS].sort())
    for (const peer of PEERS) {
      assert.equal(pkg.peerDependenciesMeta[peer]?.optional, true, `${peer} is optional`)
      assert.ok(pkg.devDependencies[peer], `${peer} is a devDependency too, for this repository's tests`)
    }
    assert.match(pkg.peerDependencies.hono!, /^\^4\./)
  })

  it('keeps the service-only valibot out of the library install', () => {
    assert.ok(pkg.devDependencies.valibot)
    assert.equal(pkg.peerDependencies.valibot, undefined)
  })

  it('exports every entry point with types and a default condition (import and require)', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (subpath === './package.json') continue
      assert.equal(typeof target, 'object', subpath)
      const conditions = target as Record<string, string>
      assert.deepEqual(Object.keys(conditions), ['types', 'default'], `${subpath}: types first, then default`)
      assert.match(conditions.default!, /^\.\/dist\/.*\.js$/)
      assert.equal(conditions.types, conditions.default!.replace(/\.js$/, '.d.ts'))
    }
    assert.equal(pkg.main, (pkg.exports['.'] as Record<string, string>).default)
  })

  it('names its license and where it lives', () => {
    assert.equal(pkg.license, 'MIT')
    const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8')
    assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 certgate contributors\n/)
    assert.match(pkg.repository.url, /github\.com\/certgate\/certgate/)
    assert.match(pkg.homepage, /github\.com\/certgate\/certgate/)
    assert.match(pkg.bugs.url, /github\.com\/certgate\/certgate\/issues/)
  })

  it('starts the built service and never compiles on start', () => {
    assert.equal(pkg.scripts.prestart, undefined)
    assert.equal(pkg.scripts.start, 'node scripts/start.mjs')
    assert.equal(pkg.scripts.prepare, 'npm run build')
  })

  it('has the same version and license for JSR', () => {
    const deno = readJson<{ version: string; license: string }>(join(ROOT, 'deno.json'))
    assert.equal(deno.version, pkg.version)
    assert.equal(deno.license, pkg.license)
  })
})

describe('npm pack', { skip: onceAcrossNodes('it runs tsc and npm') }, () => {
  let built: BuiltPackage
  let packed: PackResult

  before(async () => {
    built = await buildPackage()
    packed = await packPackage(built)
    console.log(
      `tarball ${(packed.size / 1024).toFixed(1)} KB, unpacked ${(packed.unpackedSize / 1024).toFixed(1)} KB, ${packed.files.length} files`
    )
  })
  after(() => built && removeDir(built.dir))

  it('ships dist/, the README and the LICENSE: no source maps, no reference service', () => {
    const outside = packed.files.filter((file) => !file.startsWith('dist/'))
    assert.deepEqual(outside, ['LICENSE', 'README.md', 'package.json'])
    assert.deepEqual(packed.files.filter((file) => file.endsWith('.map')), [])
    assert.deepEqual(packed.files.filter((file) => file.startsWith('dist/service/')), [])
    for (const entry of ['dist/index.js', 'dist/adapters/hono.js', 'dist/adapters/node.js', 'dist/testing/index.js', 'dist/cli/main.js']) {
      assert.ok(packed.files.includes(entry), entry)
    }
  })

  it('points no file at a source map it does not ship', () => {
    const pointing = packed.files
      .filter((file) => file.endsWith('.js'))
      .filter((file) => readFileSync(join(built.dir, file), 'utf8').includes('sourceMappingURL'))
    assert.deepEqual(pointing, [])
  })

  it('resolves every relative import in dist/ to a file in the tarball', () => {
    const shipped = new Set(packed.files)
    const missing: string[] = []
    for (const file of packed.files.filter((name) => /\.(js|d\.ts)$/.test(name))) {
      const code = readFileSync(join(built.dir, file), 'utf8')
      for (const match of code.matchAll(/(?:from\s+|import\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) {
        let target = posix.join(posix.dirname(file), match[1]!)
        // Declarations keep the sources' `.ts` specifiers; TypeScript reads them as the `.d.ts`.
        if (file.endsWith('.d.ts')) target = target.replace(/\.(js|ts)$/, '.d.ts')
        if (!shipped.has(target)) missing.push(`${file} → ${match[1]}`)
      }
    }
    assert.deepEqual(missing, [])
  })

  it('has a CLI whose shebang survives the build', () => {
    const cli = readFileSync(join(built.dir, pkg.bin.certgate!), 'utf8')
    assert.match(cli, /^#!\/usr\/bin\/env node\n/)
    assert.ok(existsSync(join(dirname(join(built.dir, pkg.bin.certgate!)), 'main.d.ts')))
  })
})
