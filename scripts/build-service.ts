/**
 * `npm run build:service`: the reference service for Node as one ES module, bundled by esbuild
 * from src/service/main.ts with everything it imports (the library, hono, @hono/node-server,
 * valibot). It runs with plain `node` and no node_modules: the Dockerfile's runtime stage ships
 * this one file, and the library's own install never carries the service's dependencies.
 *
 * Usage: npm run build:service [-- <outfile>]   (default: dist-service/main.mjs)
 * @module
 */
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const outfile = resolve(process.argv[2] ?? 'dist-service/main.mjs')
const result = await build({
  entryPoints: [fileURLToPath(new URL('../src/service/main.ts', import.meta.url))],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The bundle must run alone: nothing may stay an import of a package that is not there. (The
  // test kit's @peculiar/x509 is loaded only by ClientCertificate.x509(), which the service never
  // calls, by a specifier esbuild does not follow.)
  packages: 'bundle',
  // Node's ESM has no `require`; a CommonJS module inside the bundle may still call it.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
})
const bytes = Object.values(result.metafile.outputs)[0]!.bytes
console.log(`${outfile}: ${(bytes / 1024).toFixed(1)} KB`)
