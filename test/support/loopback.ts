/**
 * Real HTTP servers on 127.0.0.1 for tests and the demo: a recording loopback server, a JSON
 * backend app, and a stand-in Dapr sidecar built from daprd's HTTP invoke contract. No mocked
 * `fetch`: the code under test makes real requests, so timeouts, refused connections and
 * keep-alive behave as they do in production. Runs on Node, Bun and Deno (node:http).
 * @module
 */
import { Buffer } from 'node:buffer'
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** One request a loopback server received. */
export interface Seen {
  method: string
  url: string
  headers: IncomingHttpHeaders
}

/** A listening loopback server. */
export interface Loopback {
  /** `http://127.0.0.1:<port>`, without a trailing `/`. */
  url: string
  port: number
  /** Every request received, in order. */
  seen: Seen[]
  /** Cuts every connection, never-answered ones included, and stops listening. Idempotent. */
  close: () => Promise<void>
}

/** A node:http request handler; a rejected promise ends the response instead of crashing. */
export type LoopbackHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/** The Dapr stand-in's routing: app-id → base URL of the app, and the optional API token. */
export interface DaprSidecarOptions {
  apps: Record<string, string>
  token?: string
  /** The app-id of the app this sidecar runs beside, sent on as `dapr-caller-app-id`. */
  appId?: string
}

/** Options for {@link listen}. */
export interface ListenOptions {
  /** Default 0: a free port. A given one brings a closed server back where it was. */
  port?: number
}

/** A server on 127.0.0.1 that records each request and answers with `handler`. */
export async function listen(
  handler: LoopbackHandler,
  options: ListenOptions = {}
): Promise<Loopback> {
  const seen: Seen[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    // A handler bug must not become an unhandled rejection that kills the test run or the demo.
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(() => {
        if (res.headersSent) res.destroy()
        else res.writeHead(500).end()
      })
  })
  // Every socket is tracked and destroyed as well, so close() does not depend on how fully each
  // runtime's node:http implements closeAllConnections() (Bun and Deno reimplement it).
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | null = null
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: function close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.closeAllConnections()
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
      return closed
    },
  }
}

/** Servers started through one `listen`, closed together by `closeAll` (a suite's `after`). */
export interface LoopbackSet {
  listen: (handler: LoopbackHandler, options?: ListenOptions) => Promise<Loopback>
  closeAll: () => Promise<void>
}

/** A {@link LoopbackSet}: every server its `listen` starts, `closeAll` closes. */
export function loopbackSet(): LoopbackSet {
  const open: Loopback[] = []
  return {
    listen: async function listenTracked(handler, options): Promise<Loopback> {
      const loopback = await listen(handler, options)
      open.push(loopback)
      return loopback
    },
    closeAll: async function closeAll(): Promise<void> {
      await Promise.all(open.map((server) => server.close()))
    },
  }
}

/** A port nothing listens on: bound, then released. */
export async function freePort(): Promise<number> {
  const server = await listen(() => {})
  await server.close()
  return server.port
}

/** Answers `body` as JSON with an exact Content-Length. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

/**
 * A backend app: each path in `routes` answers 200 with its JSON, anything else 404.
 *
 * @example
 * const api = await listen(jsonBackend({ '/health': { status: 'healthy' } }))
 */
export function jsonBackend(routes: Record<string, unknown>): LoopbackHandler {
  return function backend(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/'
    if (Object.hasOwn(routes, path)) return sendJson(res, 200, routes[path])
    sendJson(res, 404, { error: 'not found' })
  }
}

/**
 * A stand-in Dapr sidecar, after daprd's HTTP API (pkg/api/http): with an API token set, a
 * request without the right `dapr-api-token` gets 401 text/plain `invalid api token`; the target
 * comes from the `dapr-app-id` header (the path is then the method) or from
 * `/v1.0/invoke/{app-id}/method/{method}`; neither → 404 ERR_DIRECT_INVOKE; an unknown app-id or
 * an app that cannot be reached → 500 ERR_DIRECT_INVOKE; otherwise the call goes to the app
 * with the caller's other headers as they are, plus the `dapr-caller-app-id` and
 * `dapr-callee-app-id` daprd adds, and its status and body come back as they are.
 *
 * @example
 * const sidecar = await listen(daprSidecar({ apps: { backend: api.url } }))
 * // GET `${sidecar.url}/v1.0/invoke/backend/method/health` → the backend's GET /health
 */
export function daprSidecar(options: DaprSidecarOptions): LoopbackHandler {
  return async function sidecar(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (options.token !== undefined && req.headers['dapr-api-token'] !== options.token) {
      res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('invalid api token\n')
      return
    }
    const target = invokeTarget(req)
    if (target === null) {
      sendJson(res, 404, {
        errorCode: 'ERR_DIRECT_INVOKE',
        message: 'failed getting app id either from the URL path or the header dapr-app-id',
      })
      return
    }
    const base = Object.hasOwn(options.apps, target.appId) ? options.apps[target.appId] : undefined
    if (base === undefined) {
      sendJson(res, 500, invokeFailed(target.appId, `couldn't find service: ${target.appId}`))
      return
    }
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (['dapr-api-token', 'dapr-app-id', 'host', 'connection'].includes(name)) continue
      if (typeof value === 'string') headers.set(name, value)
    }
    headers.set('dapr-caller-app-id', options.appId ?? 'caller')
    headers.set('dapr-callee-app-id', target.appId)
    let upstream: Response
    try {
      upstream = await fetch(`${base}/${target.method}`, { method: req.method, headers })
    } catch {
      // daprd answers a failed call to the app with the same 500 as an unknown app-id.
      sendJson(res, 500, invokeFailed(target.appId, 'the app could not be reached'))
      return
    }
    const body = Buffer.from(await upstream.arrayBuffer())
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream',
      'content-length': body.byteLength,
    })
    res.end(body)
  }
}

/** daprd's error JSON for a failed invocation. */
function invokeFailed(appId: string, why: string): { errorCode: string; message: string } {
  return { errorCode: 'ERR_DIRECT_INVOKE', message: `failed to invoke, id: ${appId}, err: ${why}` }
}

/** The app-id and method, from the `dapr-app-id` header form or the invoke URL; else null. */
function invokeTarget(req: IncomingMessage): { appId: string; method: string } | null {
  const path = new URL(req.url ?? '/', 'http://sidecar').pathname
  const header = req.headers['dapr-app-id']
  if (typeof header === 'string' && header !== '') {
    return { appId: header, method: path.replace(/^\/+/, '') }
  }
  const match = /^\/v1\.0\/invoke\/([^/]+)\/method\/(.+)$/.exec(path)
  return match === null ? null : { appId: decodeURIComponent(match[1]!), method: match[2]! }
}
