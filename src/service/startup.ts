/**
 * What every entry point (Node, Bun, Deno) does the same way at startup: read the configuration
 * or stop with the message that names every bad variable, and print the one start line. Web APIs
 * only: each runtime passes its own environment, exit and file reader.
 * @module
 */
import {
  ConfigError,
  parseServiceConfig,
  type ReadFile,
  type ServiceConfig,
} from './config.ts'

/**
 * The configuration, or — for a ConfigError — its message on stderr and `exit(1)`, before the
 * server listens. `readFile` reads `TRUSTED_CA_CERTS` and `CRL_FILES` given as paths. Any other
 * error is a bug and is thrown as is.
 */
export function loadConfigOrExit(
  env: Record<string, string | undefined>,
  exit: (code: number) => never,
  readFile?: ReadFile
): ServiceConfig {
  try {
    return parseServiceConfig(env, { readFile })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    return exit(1)
  }
}

/**
 * The one line logged at start. Counts only: the allowlists, CAs and proxy ranges are not
 * secrets, but the log is no place for them, and the backend URL is left out as it may carry
 * credentials.
 */
export function startupLine(
  config: ServiceConfig,
  address: { address: string; port: number }
): string {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address
  return (
    `certgate service listening on http://${host}:${address.port}` +
    ` (client-cert mode ${config.clientCertMode}, source ${config.clientCertSource}, ` +
    `Dapr-invoked requests ${config.refuseDaprInvoked ? 'refused' : 'read'}, ` +
    `${plural(config.allowedThumbprints.length, 'allowed thumbprint')}, ` +
    `${plural(config.allowedCommonNames.length, 'allowed common name')}, ` +
    `${trustSummary(config.trust)}, ${proxySummary(config.trustedProxies)})`
  )
}

function trustSummary(trust: ServiceConfig['trust']): string {
  if (trust === null) return 'trust off'
  return (
    `trust on: ${plural(trust.roots.length, 'root')}, ` +
    `${plural(trust.intermediates.length, 'intermediate')}, ${plural(trust.crls.length, 'CRL')}`
  )
}

function proxySummary(trustedProxies: string[] | null): string {
  // Zero ranges would read as "nobody"; what it means is that no address check runs.
  if (trustedProxies === null) return 'no trusted-proxy check'
  return plural(trustedProxies.length, 'trusted proxy range')
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}
