/**
 * `npm run size`: bundles a Cloudflare Worker that uses only `withClientCert` from the built
 * package, as Wrangler would (esbuild, ESM, the workerd/worker/browser conditions), minified;
 * prints its size and largest inputs, and fails over 64 KiB, when it carries any of the
 * chain-validation engine (dist/trust/, linked only by apps that call createTrustVerifier), or
 * when it pulls in a peer (hono, @peculiar/x509, reflect-metadata), which a Worker without Hono
 * must never carry. Then prints the size of the same Worker validating chains: what `trust` costs.
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

// The same Worker validating chains to a CA it is given as a binding, built on first request.
const TRUST_WORKER = `
import { createTrustVerifier, withClientCert } from 'certgate'
let handler
export default {
  fetch(request, env) {
    handler ??= withClientCert((request, cert) => Response.json(cert), {
      allow: { thumbprints: ['${'3F2A'.repeat(16)}'] },
      trust: createTrustVerifier({ roots: [env.CA_PEM] }),
    })
    return handler(request)
  },
}
`

const WORKER_FILE = 'worker.js'

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`

interface Bundle {
  readonly code: Uint8Array
  /** Its inputs, by path from the package directory, largest first. */
  readonly inputs: ReadonlyArray<{ readonly path: string; readonly bytes: number }>
}

/** A Worker's source bundled against the package in `packageDir`, through a project that installs it. */
async function bundleWorker(packageDir: string, source: string): Promise<Bundle> {
  // The Worker's node_modules/certgate is the package, resolved by name through its exports map
  // and package.json, as an installed copy would be.
  const project = mkdtempSync(join(tmpdir(), 'certgate-worker-'))
  try {
    mkdirSync(join(project, 'node_modules'))
    symlinkSync(packageDir, join(project, 'node_modules', 'certgate'), 'dir')
    const result = await build({
      stdin: { contents: source, resolveDir: project, sourcefile: WORKER_FILE },
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
    const output = Object.values(result.metafile.outputs)[0]!
    // esbuild names inputs by their path from the working directory.
    const inputs = Object.entries(output.inputs)
      .map(([path, { bytesInOutput }]) => ({ path: relative(packageDir, resolve(path)), bytes: bytesInOutput }))
      .sort((a, b) => b.bytes - a.bytes)
    return { code: result.outputFiles[0]!.contents, inputs }
  } finally {
    rmSync(project, { recursive: true, force: true })
  }
}

/** Bytes of the bundle that came from `pattern`'s files. */
function bytesFrom(bundle: Bundle, pattern: RegExp): number {
  return bundle.inputs.filter(({ path }) => pattern.test(path)).reduce((sum, { bytes }) => sum + bytes, 0)
}

/** The peers a bundle carries, by input path. */
function peersIn(bundle: Bundle): string[] {
  return bundle.inputs.filter(({ path }) => FOREIGN.test(path)).map(({ path }) => path)
}

async function main(): Promise<number> {
  const packageDir = resolve(process.argv[2] ?? '.')
  if (!existsSync(join(packageDir, 'dist', 'index.js'))) {
    console.error(`${join(packageDir, 'dist')} is missing: run \`npm run build\` first.`)
    return 1
  }
  const plain = await bundleWorker(packageDir, WORKER)
  const size = plain.code.length
  console.log(
    `Worker bundle (withClientCert only): ${kb(size)} minified (${size} bytes), ` +
      `${kb(gzipSync(plain.code).length)} gzipped; limit ${kb(LIMIT_BYTES)} minified`
  )
  console.log('largest inputs:')
  for (const { path, bytes } of plain.inputs.slice(0, 12)) console.log(`  ${kb(bytes).padStart(9)}  ${path}`)
  const trusting = await bundleWorker(packageDir, TRUST_WORKER)
  const withTrust = trusting.code.length
  console.log(
    `Worker bundle (withClientCert + createTrustVerifier): ${kb(withTrust)} minified (${withTrust} bytes), ` +
      `${kb(gzipSync(trusting.code).length)} gzipped; chain validation adds ${kb(withTrust - size)} ` +
      `(${withTrust - size} bytes, ${kb(bytesFrom(trusting, TRUST))} of it dist/trust/)`
  )
  const failures: string[] = []
  const peers = [...new Set([...peersIn(plain), ...peersIn(trusting)])]
  if (peers.length > 0) failures.push(`the bundle carries peers: ${peers.join(', ')}`)
  const engine = bytesFrom(plain, TRUST)
  if (engine > 0) failures.push(`a Worker without trust carries ${engine} bytes of dist/trust/`)
  if (size > LIMIT_BYTES) failures.push(`${size} bytes is over the ${LIMIT_BYTES}-byte limit`)
  for (const failure of failures) console.error(`FAIL: ${failure}`)
  return failures.length > 0 ? 1 : 0
}

process.exitCode = await main()
