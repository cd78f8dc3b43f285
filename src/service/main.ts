/**
 * The reference service on Node (`npm start`): configuration from the environment (CA bundle and
 * CRL files read from disk here, so `config.ts` stays Web-only), checked before listening;
 * graceful shutdown on SIGTERM / SIGINT through `certgate/node`.
 * @module
 */
import { readFileSync } from 'node:fs'
import { getConnInfo } from '@hono/node-server/conninfo'
import { serve } from '../adapters/node.ts'
import { createServiceApp } from './app.ts'
import { loadConfigOrExit, startupLine } from './startup.ts'

const config = loadConfigOrExit(process.env, process.exit, (path) => readFileSync(path))
serve(createServiceApp(config, { getConnInfo }), {
  port: config.port,
  hostname: process.env.HOST ?? '0.0.0.0',
  onListen: (address) => console.log(startupLine(config, address)),
})
