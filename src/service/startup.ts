/**
 * What every entry point (Node, Bun, Deno) does the same way at startup: read the configuration
 * or stop with the message that names every bad variable, and print the one start line. Web APIs
 * only: each runtime passes its own environment and exit.
 * @module
 */
import { ConfigError, parseServiceConfig, type ServiceConfig } from './config.ts'

/**
 * The configuration, or — for a ConfigError — its message on stderr and `exit(1)`, before the
 * server listens. Any other error is a bug and is thrown as is.
 */
export function loadConfigOrExit(
  env: Record<string, string | undefined>,
  exit: (code: number) => never
): ServiceConfig {
  try {
    return parseServiceConfig(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    return exit(1)
  }
}

/**
 * The one line logged at start. Counts only: the allowlists are not secrets, but the log is no
 * place for them, and the backend URL is left out as it may carry credentials.
 */
export function startupLine(
  config: ServiceConfig,
  address: { address: string; port: number }
): string {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address
  return (
    `certgate service listening on http://${host}:${address.port}` +
    ` (client-cert mode ${config.clientCertMode}, ` +
    `${plural(config.allowedThumbprints.length, 'allowed thumbprint')}, ` +
    `${plural(config.allowedCommonNames.length, 'allowed common name')})`
  )
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}
