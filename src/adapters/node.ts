/**
 * Node adapter (`certgate/node`): serves a fetch-style app (a Hono app, or anything with
 * `fetch(request)`) on `@hono/node-server`, and shuts it down gracefully on SIGTERM / SIGINT,
 * the way Azure Container Apps stops a revision: stop accepting, let in-flight requests finish
 * within a bound, then exit 0. Slow and greedy clients are bounded: time to send the headers and
 * the whole request, idle keep-alive time, open connections, and a refused request's unread body
 * is not waited for.
 * @module
 */
import type { IncomingMessage, Server } from 'node:http'
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { createAdaptorServer, type Http2Bindings, type HttpBindings } from '@hono/node-server'

export { peerCertificateSource } from './node-tls.ts'

/** Anything with a Web `fetch` handler: a Hono app, or `{ fetch }`. */
export interface FetchApp {
  // A method, so that a handler typing its extra arguments (Hono's env, context) still fits.
  fetch(request: Request, ...rest: unknown[]): Response | Promise<Response>
}

/** Options for {@link serve}. */
export interface ServeOptions {
  /** The TCP port; 0 picks a free one. Default: the `PORT` environment variable, else 8000. */
  port?: number
  /** Default: all interfaces, as `http.Server.listen` does without a host. */
  hostname?: string
  /** How long in-flight requests may run after a signal before their connections are cut. */
  shutdownTimeoutMs?: number
  /** The signals that start a graceful shutdown. */
  signals?: readonly NodeJS.Signals[]
  /** Called once the server listens. */
  onListen?: (info: ListenAddress) => void
  /** Exit the process (code 0) once a signal-started shutdown is done. */
  exit?: boolean
  /** Time a client has to send the request headers; a slower one gets 408 and is cut. */
  headersTimeoutMs?: number
  /** Time a client has to send the whole request, body included; 408 and cut past it. */
  requestTimeoutMs?: number
  /** How long an idle keep-alive connection stays open. */
  keepAliveTimeoutMs?: number
  /** Open connections at most; one more is closed as it arrives, unanswered. */
  maxConnections?: number
  /**
   * Serve https with these options, as `https.createServer` takes them (`key`, `cert`, `ca`,
   * `requestCert`, `rejectUnauthorized`…). With `requestCert: true`, `peerCertificateSource()`
   * reads the client certificate from the connection.
   */
  tls?: HttpsServerOptions
}

/** Where the server listens. */
export interface ListenAddress {
  address: string
  port: number
}

/** What {@link serve} returns. */
export interface ServeHandle {
  /** The underlying Node server. */
  server: Server
  /** Graceful close, as on a signal but without exiting. Idempotent: every call shares one. */
  close(): Promise<void>
  /** Where it listens; null until it does, and after it closed. */
  readonly address: ListenAddress | null
}

const DEFAULT_PORT = 8000
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000
// Node's own defaults let a client trickle its headers for 60 s and a body for 300 s, with no
// cap on connections: a few hundred slow sockets would hold a server.
const DEFAULT_LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1024,
} as const
const DEFAULT_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']
// A keep-alive connection that was busy when the shutdown began becomes idle once its response
// is sent; this is how soon it is then closed.
const IDLE_SWEEP_MS = 50

/**
 * Serves `app` on Node with graceful shutdown.
 *
 * On the first of `signals`: the server stops accepting, idle keep-alive connections are closed,
 * in-flight requests may finish for up to `shutdownTimeoutMs`, then the remaining connections are
 * cut (logged on stderr) and the process exits 0 — a cut after the bound is still an orderly
 * stop that the platform asked for, not a crash. A second signal cuts them at once.
 * The signal listeners are removed when the server closes, whatever closed it.
 *
 * @param {FetchApp} app - a Hono app or any `{ fetch(request) }`.
 * @param {ServeOptions} [options] - where to listen, and how to shut down.
 * @param {number} [options.port] - the TCP port; 0 picks a free one. Default: `PORT`, else 8000.
 * @param {string} [options.hostname] - default all interfaces.
 * @param {number} [options.shutdownTimeoutMs=10000] - bound for in-flight requests on shutdown.
 * @param {NodeJS.Signals[]} [options.signals=['SIGTERM','SIGINT']] - signals that shut down.
 * @param {Function} [options.onListen] - called with `{ address, port }` once listening.
 * @param {boolean} [options.exit=true] - `process.exit(0)` after a signal-started shutdown.
 * @param {number} [options.headersTimeoutMs=10000] - time to send the headers; then 408 and cut.
 * @param {number} [options.requestTimeoutMs=30000] - time to send the whole request; then 408 and cut.
 * @param {number} [options.keepAliveTimeoutMs=5000] - how long an idle keep-alive connection stays.
 * @param {number} [options.maxConnections=1024] - open connections at most; more are closed unanswered.
 * @returns {ServeHandle} the server, a graceful `close()`, and the bound address.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { serve } from 'certgate/node'
 *
 * const app = new Hono().get('/health', (c) => c.json({ status: 'ok' }))
 * serve(app, {
 *   port: 8000,
 *   onListen: ({ address, port }) => console.log(`listening on ${address}:${port}`),
 * })
 * ```
 */
export function serve(app: FetchApp, options: ServeOptions = {}): ServeHandle {
  const {
    port = portFromEnvironment(),
    hostname,
    shutdownTimeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS,
    signals = DEFAULT_SIGNALS,
    onListen,
    exit = true,
  } = options
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError('port must be an integer from 0 to 65535.')
  }
  if (!Number.isFinite(shutdownTimeoutMs) || shutdownTimeoutMs < 0) {
    throw new RangeError('shutdownTimeoutMs must be a non-negative number.')
  }

  const server = createServer(app, hostname, connectionLimits(options), options.tls)
  const openSockets = trackSockets(server)
  let closing: Promise<void> | null = null

  function close(): Promise<void> {
    // Listening starts after a DNS lookup; closing before it would leave the server running.
    closing ??= whenStarted(server)
      .then(() => shutDown(server, shutdownTimeoutMs, openSockets))
      .finally(removeSignalListeners)
    return closing
  }

  function onSignal(signal: NodeJS.Signals): void {
    if (closing !== null) {
      console.warn(`certgate: ${signal} again during shutdown; closing all connections now`)
      server.closeAllConnections()
      return
    }
    console.warn(
      `certgate: ${signal} received; finishing in-flight requests (up to ${shutdownTimeoutMs} ms)`
    )
    void close().then(() => {
      if (exit) process.exit(0)
    })
  }

  function removeSignalListeners(): void {
    for (const signal of signals) process.off(signal, onSignal)
  }

  for (const signal of signals) process.on(signal, onSignal)
  // Closed by someone else (e.g. `handle.server.close()`): the listeners must not outlive it.
  server.once('close', removeSignalListeners)
  server.listen(port, hostname, () => {
    const info = listenAddress(server)
    if (info !== null) onListen?.(info)
  })

  return {
    server,
    close,
    get address(): ListenAddress | null {
      return listenAddress(server)
    },
  }
}

/** `PORT` when set (checked like the option), else 8000: what platforms such as ACA pass. */
function portFromEnvironment(): number {
  const value = process.env.PORT
  if (value === undefined || value === '') return DEFAULT_PORT
  const port = /^[0-9]{1,5}$/.test(value) ? Number(value) : -1
  if (port < 0 || port > 65535) throw new RangeError('PORT must be an integer from 0 to 65535.')
  return port
}

/** The connection limits of {@link ServeOptions}, with their defaults applied. */
type ConnectionLimits = { readonly [K in keyof typeof DEFAULT_LIMITS]: number }

/** The connection limits, defaults applied; throws a RangeError naming a bad one. */
function connectionLimits(options: ServeOptions): ConnectionLimits {
  const {
    headersTimeoutMs = DEFAULT_LIMITS.headersTimeoutMs,
    requestTimeoutMs = DEFAULT_LIMITS.requestTimeoutMs,
    keepAliveTimeoutMs = DEFAULT_LIMITS.keepAliveTimeoutMs,
    maxConnections = DEFAULT_LIMITS.maxConnections,
  } = options
  const limits = { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer.`)
  }
  // Node refuses the pair otherwise, with a message about its own option names.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new RangeError('headersTimeoutMs must not exceed requestTimeoutMs.')
  }
  return limits
}

/** The Node server for `app`, with the connection limits. */
function createServer(
  app: FetchApp,
  hostname: string | undefined,
  limits: ConnectionLimits,
  tls: HttpsServerOptions | undefined
): Server {
  // Without `createServer` the adaptor builds a plain `http.Server`; its type also allows http2.
  // An `https.Server` is an `http.Server` with TLS underneath: the same limits and shutdown apply.
  const server = createAdaptorServer({
    fetch: closingAfterRefusal(app),
    hostname,
    ...(tls === undefined ? {} : { createServer: createHttpsServer }),
    serverOptions: {
      ...tls,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // Node checks both timeouts only this often (30 s by default), which would stretch them.
      connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(limits.headersTimeoutMs / 4))),
    },
  }) as Server
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  server.maxConnections = limits.maxConnections
  return server
}

/**
 * The app's fetch, closing the connection after a refusal (a status of 400 or more) that was
 * answered before the request's body arrived: the rest of the body would be read only to be
 * thrown away, and a client trickling it would hold the connection for as long as it likes.
 */
function closingAfterRefusal(
  app: FetchApp
): (request: Request, env: HttpBindings | Http2Bindings) => Response | Promise<Response> {
  return function fetch(request, env) {
    // The server built here is plain HTTP/1.1, never http2.
    const { incoming, outgoing } = env as HttpBindings
    function closeIfRefused(response: Response): Response {
      if (response.status >= 400 && hasUnreadBody(incoming)) outgoing.setHeader('connection', 'close')
      return response
    }
    const response = app.fetch(request, env)
    return response instanceof Promise ? response.then(closeIfRefused) : closeIfRefused(response)
  }
}

/** True while a request announced a body that has not fully arrived. */
function hasUnreadBody(incoming: IncomingMessage): boolean {
  if (incoming.complete) return false
  const length = incoming.headers['content-length']
  return incoming.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/** Resolves once the server listens, or failed to. */
function whenStarted(server: Server): Promise<void> {
  if (server.listening) return Promise.resolve()
  return new Promise<void>((resolve) => {
    function settle(): void {
      server.off('listening', settle)
      server.off('error', settle)
      resolve()
    }
    server.once('listening', settle)
    server.once('error', settle)
  })
}

/** The bound address, or null when the server is not listening (or on a pipe). */
function listenAddress(server: Server): ListenAddress | null {
  const info = server.address() as AddressInfo | string | null
  if (info === null || typeof info === 'string') return null
  return { address: info.address, port: info.port }
}

/**
 * Stops accepting, closes idle connections as they become idle, and after `timeoutMs` cuts
 * whatever is left. Resolves once every connection is gone.
 */
function shutDown(server: Server, timeoutMs: number, openSockets: () => number): Promise<void> {
  return new Promise<void>((resolve) => {
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS)
    const force = setTimeout(() => {
      const open = openSockets()
      console.warn(
        `certgate: shutdown bound of ${timeoutMs} ms reached; cutting ${open} connection(s)`
      )
      server.closeAllConnections()
    }, timeoutMs)
    // The timers must not keep the process alive once the server is gone.
    sweep.unref()
    force.unref()
    server.close(() => {
      clearInterval(sweep)
      clearTimeout(force)
      resolve()
    })
    server.closeIdleConnections()
  })
}

/** Tracks the server's open sockets (Node exposes only a count, and only asynchronously). */
function trackSockets(server: Server): () => number {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  return function openSockets(): number {
    return sockets.size
  }
}
