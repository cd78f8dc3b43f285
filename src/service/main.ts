/**
 * The reference service on Node (`npm start`): configuration from the environment (CA bundle and
 * CRL files read from disk here, so `config.ts` stays Web-only), checked before listening; every
 * line it writes is JSON, `console` output from elsewhere included; graceful shutdown on
 * SIGTERM / SIGINT through `certgate/node`, then the trust files' watch stops.
 * @module
 */
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { getConnInfo } from '@hono/node-server/conninfo'
import { serve } from '../adapters/node.ts'
import { consoleSink, createLogger, routeConsole } from './log.ts'
import { loadConfigOrExit, logStartup, startService } from './startup.ts'

const log = createLogger(consoleSink(console))
routeConsole(console, log)
const config = loadConfigOrExit(process.env, process.exit, log, (path) => readFileSync(path))
const service = await startService(config, { getConnInfo, readFile: (path) => readFile(path), log })
const handle = serve(service.app, {
  port: config.port,
  hostname: process.env.HOST ?? '0.0.0.0',
  onListen: (address) => logStartup(log, config, address),
})
handle.server.once('close', () => service.close())
