#!/usr/bin/env -S deno run --allow-net --allow-env --allow-read
/**
 * The reference service on Deno (`deno task start` runs this file through its first line, so the
 * task never names `deno`: in a task that would be the npm `deno` package's binary from
 * node_modules/.bin, which the task runner starts as a JavaScript file). On SIGTERM / SIGINT it
 * stops accepting and lets in-flight requests finish, up to 10 s, then exits 0. Reading
 * `TRUSTED_CA_CERTS` or `CRL_FILES` from files needs `--allow-read` (a denied read is reported
 * as a configuration error naming the variable).
 * @module
 */
import { getConnInfo } from 'hono/deno'
import { consoleSink, createLogger, routeConsole } from './log.ts'
import { loadConfigOrExit, logStartup, startService } from './startup.ts'

// Only what this file uses of Deno's API; our tsconfig has no Deno types.
declare const Deno: {
  env: { toObject(): Record<string, string> }
  exit(code: number): never
  readFileSync(path: string): Uint8Array
  readFile(path: string): Promise<Uint8Array>
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void
  serve(
    options: {
      port: number
      hostname: string
      onListen: (address: { hostname: string; port: number }) => void
    },
    handler: (request: Request, info: unknown) => Response | Promise<Response>
  ): { shutdown(): Promise<void> }
}

const SHUTDOWN_TIMEOUT_MS = 10_000

const log = createLogger(consoleSink(console))
routeConsole(console, log)
const env = Deno.env.toObject()
const config = loadConfigOrExit(env, Deno.exit, log, (path) => Deno.readFileSync(path))
const service = await startService(config, {
  getConnInfo,
  readFile: (path) => Deno.readFile(path),
  log,
})
const server = Deno.serve(
  {
    port: config.port,
    hostname: env.HOST ?? '0.0.0.0',
    onListen: ({ hostname, port }) => logStartup(log, config, { address: hostname, port }),
  },
  // Deno passes the connection info (remoteAddr) as the handler's second argument, Hono's env.
  service.app.fetch
)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  Deno.addSignalListener(signal, () => {
    // Deno.serve has no forced close; past the bound, exiting drops what is left.
    setTimeout(() => Deno.exit(0), SHUTDOWN_TIMEOUT_MS)
    void server.shutdown().then(() => {
      service.close()
      Deno.exit(0)
    })
  })
}
