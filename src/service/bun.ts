/**
 * The reference service on Bun (`bun src/service/bun.ts`), writing JSON lines. On SIGTERM /
 * SIGINT it stops accepting and lets in-flight requests finish, up to 10 s, stops watching the
 * trust files, then exits 0.
 * @module
 */
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { getConnInfo } from 'hono/bun'
import { consoleSink, createLogger, routeConsole } from './log.ts'
import { loadConfigOrExit, logStartup, startService } from './startup.ts'

// Only what this file uses of Bun's API; our tsconfig has no Bun types.
declare const Bun: {
  serve(options: {
    port: number
    hostname: string
    fetch: (request: Request, server: unknown) => Response | Promise<Response>
  }): { hostname: string; port: number; stop(closeActiveConnections?: boolean): Promise<void> }
}

const SHUTDOWN_TIMEOUT_MS = 10_000

const log = createLogger(consoleSink(console))
routeConsole(console, log)
const config = loadConfigOrExit(process.env, process.exit, log, (path) => readFileSync(path))
const service = await startService(config, { getConnInfo, readFile: (path) => readFile(path), log })
const server = Bun.serve({
  port: config.port,
  hostname: process.env.HOST ?? '0.0.0.0',
  // Bun passes the server as fetch's second argument: the env `getConnInfo` asks for the peer.
  fetch: service.app.fetch,
})
logStartup(log, config, { address: server.hostname, port: server.port })

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    setTimeout(() => void server.stop(true), SHUTDOWN_TIMEOUT_MS).unref()
    void server.stop().then(() => {
      service.close()
      process.exit(0)
    })
  })
}
