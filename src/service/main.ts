/**
 * The reference service on Node (`npm start`): configuration from the environment, checked
 * before listening; graceful shutdown on SIGTERM / SIGINT through `certgate/node`.
 * @module
 */
import { serve } from '../node.ts'
import { createServiceApp } from './app.ts'
import { loadConfigOrExit, startupLine } from './startup.ts'

const config = loadConfigOrExit(process.env, process.exit)
serve(createServiceApp(config), {
  port: config.port,
  hostname: process.env.HOST ?? '0.0.0.0',
  onListen: (address) => console.log(startupLine(config, address)),
})
