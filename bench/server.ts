/**
 * The server the HTTP benchmark drives, in whichever runtime runs it: `bare` is Hono answering
 * /cert-info with a fixed JSON body of the same shape; `certgate` puts the middleware in front;
 * `noop` an async middleware that only awaits next(); `naive-map` and `cold-check` the
 * hand-written anchors of bench/anchors.ts.
 * `express-*` and `fastify-*` do the same with Express 5 and Fastify 5 (Node only).
 * Usage: <runtime> bench/server.ts <bare|noop|naive-map|cold-check|certgate|express-bare|express-certgate|fastify-bare|fastify-certgate> <port>;
 * prints "listening" when ready.
 * Needs `npm run build` first (bench/run.ts does it).
 * @module
 */
import { Hono, type MiddlewareHandler } from 'hono'
// The built package, as `npm start` runs it: tsx's transform adds a __name() call to every
// closure the library creates per request, which the published code does not have.
// Loaded by a computed path so the type checker reads src/adapters/hono.ts's types, with or without dist/.
const built = '../dist/adapters/hono.js'
const { clientCert } = (await import(built)) as typeof import('../src/adapters/hono.ts')
import type { ClientCertEnv } from '../src/adapters/hono.ts'
import { BENCH_CN } from './fixtures.ts'
import { coldCheck, naiveMap } from './anchors.ts'

declare const Bun: { serve(options: { port: number; hostname: string; fetch: (r: Request) => Response | Promise<Response> }): unknown } | undefined
declare const Deno:
  | { args: string[]; serve(options: { port: number; hostname: string; onListen?: () => void }, fetch: (r: Request) => Response | Promise<Response>): unknown }
  | undefined

const args: string[] = typeof Deno !== 'undefined' ? Deno.args : (globalThis as { process?: { argv: string[] } }).process!.argv.slice(2)
const [variant = 'bare', portText = '8000'] = args
const port = Number(portText)

// The shape and size of certgate's answer for the bench certificate (472 bytes of JSON).
const FIXED = {
  thumbprint: '0'.repeat(64),
  thumbprint_sha1: '0'.repeat(40),
  common_name: BENCH_CN,
  subject: `CN=${BENCH_CN}`,
  issuer: 'CN=certgate test intermediate CA,O=certgate test',
  serial_number: '0'.repeat(32),
  not_before: new Date(0).toISOString(),
  not_after: new Date(0).toISOString(),
  dns_names: [],
  uris: [],
  emails: [],
  ips: [],
  spiffe_id: null,
}

const options = { allow: { commonNames: [BENCH_CN] } }

if (variant.startsWith('express-')) {
  const { default: express } = await import('express')
  const builtExpress = '../dist/adapters/express.js'
  const { clientCert: expressClientCert } = (await import(builtExpress)) as typeof import('../src/adapters/express.ts')
  const app = express()
  if (variant === 'express-certgate') {
    app.use(expressClientCert(options))
    app.get('/cert-info', (req, res) => {
      res.json(req.clientCert)
    })
  } else {
    app.get('/cert-info', (_req, res) => {
      res.json(FIXED)
    })
  }
  app.listen(port, '127.0.0.1', () => console.log('listening'))
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0))
} else if (variant.startsWith('fastify-')) {
  const { default: Fastify } = await import('fastify')
  const builtFastify = '../dist/adapters/fastify.js'
  const { default: plugin } = (await import(builtFastify)) as typeof import('../src/adapters/fastify.ts')
  const app = Fastify({ logger: false })
  if (variant === 'fastify-certgate') {
    await app.register(plugin, options)
    app.get('/cert-info', async (request) => request.clientCert)
  } else {
    app.get('/cert-info', async () => FIXED)
  }
  await app.listen({ port, host: '127.0.0.1' })
  console.log('listening')
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0))
} else {
  await serveHono()
}

/** Hono on Node, Bun or Deno: bare, with a no-op middleware, a hand-written anchor, or with certgate. */
async function serveHono(): Promise<void> {
  const app = new Hono<ClientCertEnv>()
  const node = typeof Bun === 'undefined' && typeof Deno === 'undefined'
  const profileFile = node ? process.env.BENCH_CPU_PROFILE : undefined
  const stopProfile = profileFile ? (await import('./server-profile.ts')).profileRoutes(app, profileFile) : null
  if (variant === 'certgate' || variant === 'naive-map' || variant === 'cold-check') {
    const allowed = new Set([BENCH_CN])
    if (variant === 'certgate') app.use(clientCert(options))
    // The anchors set a plain object as clientCert: the handler only serialises it.
    else app.use((variant === 'naive-map' ? naiveMap(allowed, FIXED) : coldCheck(allowed, FIXED)) as unknown as MiddlewareHandler<ClientCertEnv>)
    // The same handler for certgate and its anchors: the identity the middleware set, as JSON.
    app.get('/cert-info', (c) => c.json(c.get('clientCert')))
  } else if (variant === 'noop') {
    app.use(async (_c, next) => {
      await next()
    })
    app.get('/cert-info', (c) => c.json(FIXED))
  } else if (variant === 'bare') {
    app.get('/cert-info', (c) => c.json(FIXED))
  } else {
    throw new Error(`unknown variant ${variant}`)
  }

  if (typeof Bun !== 'undefined') {
    Bun.serve({ port, hostname: '127.0.0.1', fetch: app.fetch })
    console.log('listening')
  } else if (typeof Deno !== 'undefined') {
    Deno.serve({ port, hostname: '127.0.0.1', onListen: () => console.log('listening') }, app.fetch)
  } else {
    const { serve } = await import('@hono/node-server')
    serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => console.log('listening'))
    // Exit through process.exit so that --cpu-prof can write its profile; bench/profile.ts's first.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => void (stopProfile?.() ?? Promise.resolve()).finally(() => process.exit(0)))
    }
  }
}
