/**
 * `npm run size`: bundles a Cloudflare Worker that uses only `withClientCert` from the built
 * package, as Wrangler would (esbuild, ESM, the workerd/worker/browser conditions), minified;
 * prints its size, the largest inputs and the share of the chain-validation engine (dist/trust/
 * and what only it imports), and fails over 64 KiB or when the bundle pulls in a peer (hono,
 * @peculiar/x509, reflect-metadata), which a Worker without Hono must never carry.
 *
 * Usage: npm run size [-- <package dir>]   (default: this repository, after `npm run build`)
 * @module
 */
import { existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build, type Metafile } from 'esbuild'

const LIMIT_BYTES = 64 * 1024
const FOREIGN = /node_modules\/(hono|@hono|@peculiar|reflect-metadata)\//
const TRUST = /(^|\/)dist\/trust\//

// What a user writes: one import of the package by name, the handler, an allowlist.
const WORKER = `
import { withClientCert } from 'certgate'
export default {
  fetch: withClientCert((request, cert) => Response.json(cert), {
    allow: { thumbprints: ['${'3F2A'.repeat(16)}'] },
  }),
}
`

const WORKER_FILE = 'worker.js'

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`

/** The Worker bundled against the package in `packageDir`, through a project that installs it. */
async function bundleWorker(packageDir: string): Promise<{ code: Uint8Array; metafile: Metafile; root: string }> {
  // The Worker's node_modules/certgate is the package, resolved by name through its exports map
  // and package.json, as an installed copy would be.
  const project = mkdtempSync(join(tmpdir(), 'certgate-worker-'))
  try {
    mkdirSync(join(project, 'node_modules'))
    symlinkSync(packageDir, join(project, 'node_modules', 'certgate'), 'dir')
    const result = await build({
      stdin: { contents: WORKER, resolveDir: project, sourcefile: WORKER_FILE },
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
    // esbuild names inputs by their path from the working directory, the Worker's file included.
    const root = relative(process.cwd(), join(project, WORKER_FILE))
    return { code: result.outputFiles[0]!.contents, metafile: result.metafile, root }
  } finally {
    rmSync(project, { recursive: true, force: true })
  }
}

/** The inputs reachable from the Worker without passing through dist/trust/: the rest is trust's. */
function reachableWithoutTrust(metafile: Metafile, root: string): Set<string> {
  const seen = new Set<string>()
  const visit = (path: string): void => {
    if (seen.has(path) || TRUST.test(path)) return
    seen.add(path)
    for (const { path: next } of metafile.inputs[path]?.imports ?? []) visit(next)
  }
  visit(root)
  return seen
}

async function main(): Promise<number> {
  const packageDir = resolve(process.argv[2] ?? '.')
  if (!existsSync(join(packageDir, 'dist', 'index.js'))) {
    console.error(`${join(packageDir, 'dist')} is missing: run \`npm run build\` first.`)
    return 1
  }
  const { code, metafile, root } = await bundleWorker(packageDir)
  const inBundle = Object.entries(metafile.outputs[Object.keys(metafile.outputs)[0]!]!.inputs)
  const core = reachableWithoutTrust(metafile, root)
  const trustBytes = inBundle.filter(([path]) => !core.has(path)).reduce((sum, [, input]) => sum + input.bytesInOutput, 0)
  const inputs = inBundle
    .map(([path, { bytesInOutput }]) => ({ path: relative(packageDir, resolve(path)), bytes: bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes)

  console.log(
    `Worker bundle (withClientCert only): ${kb(code.length)} minified (${code.length} bytes), ` +
      `${kb(gzipSync(code).length)} gzipped; limit ${kb(LIMIT_BYTES)} minified`
  )
  console.log(`of which the trust engine (dist/trust/ and what only it imports): ${kb(trustBytes)} (${trustBytes} bytes)`)
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
  return 0
}

process.exitCode = await main()
