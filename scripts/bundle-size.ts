/**
 * `npm run size`: bundles a Cloudflare Worker that uses only `withClientCert` from the built
 * package, as Wrangler would (esbuild, ESM, the workerd/worker/browser conditions), minified;
 * prints its size and largest inputs, and fails over 64 KiB or when the bundle pulls in a peer
 * (hono, @peculiar/x509, reflect-metadata), which a Worker without Hono must never carry.
 *
 * Usage: npm run size [-- <package dir>]   (default: this repository, after `npm run build`)
 * @module
 */
import { existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const LIMIT_BYTES = 64 * 1024
const FOREIGN = /node_modules\/(hono|@hono|@peculiar|reflect-metadata)\//

// What a user writes: one import of the package by name, the handler, an allowlist.
const WORKER = `
import { withClientCert } from 'certgate'
export default {
  fetch: withClientCert((request, cert) => Response.json(cert), {
    allow: { thumbprints: ['${'3F2A'.repeat(16)}'] },
  }),
}
`

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`

async function main(): Promise<number> {
  const packageDir = resolve(process.argv[2] ?? '.')
  if (!existsSync(join(packageDir, 'dist', 'index.js'))) {
    console.error(`${join(packageDir, 'dist')} is missing: run \`npm run build\` first.`)
    return 1
  }
  // The Worker's project: its node_modules/certgate is the package, resolved by name through
  // its exports map and package.json, as an installed copy would be.
  const project = mkdtempSync(join(tmpdir(), 'certgate-worker-'))
  try {
    mkdirSync(join(project, 'node_modules'))
    symlinkSync(packageDir, join(project, 'node_modules', 'certgate'), 'dir')
    const result = await build({
      stdin: { contents: WORKER, resolveDir: project, sourcefile: 'worker.js' },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['workerd', 'worker', 'browser'],
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'warning',
    })
    const code = result.outputFiles[0]!.contents
    const inputs = Object.entries(result.metafile.outputs[Object.keys(result.metafile.outputs)[0]!]!.inputs)
      .map(([path, { bytesInOutput }]) => ({ path: relative(packageDir, resolve(path)), bytes: bytesInOutput }))
      .sort((a, b) => b.bytes - a.bytes)
    console.log(
      `Worker bundle (withClientCert only): ${kb(code.length)} minified, ${kb(gzipSync(code).length)} gzipped; limit ${kb(LIMIT_BYTES)} minified`
    )
    console.log('largest inputs:')
    for (const { path, bytes } of inputs.slice(0, 12)) console.log(`  ${kb(bytes).padStart(9)}  ${path}`)
    const foreign = inputs.filter(({ path }) => FOREIGN.test(path))
    if (foreign.length > 0) {
      console.error(`FAIL: the bundle carries peers: ${foreign.map(({ path }) => path).join(', ')}`)
      return 1
    }
    if (code.length > LIMIT_BYTES) {
      console.error(`FAIL: ${code.length} bytes is over the ${LIMIT_BYTES}-byte limit`)
      return 1
    }
    console.log(`bytes: ${code.length}`)
    return 0
  } finally {
    rmSync(project, { recursive: true, force: true })
  }
}

process.exitCode = await main()
