/**
 * What every entry point (Node, Bun, Deno) does the same way at startup: read the configuration
 * or stop with the message that names every bad variable, and log the one start line, both as
 * JSON lines. Web APIs only: each runtime passes its own environment, exit, file reader and sink.
 * @module
 */
import type { Hono } from 'hono'
import type { GetConnInfo } from 'hono/conninfo'
import { createTrustVerifier } from '../index.ts'
import { createServiceApp } from './app.ts'
import {
  ConfigError,
  parseServiceConfig,
  type ReadFile,
  type ServiceConfig,
} from './config.ts'
import type { Logger } from './log.ts'
import { createServiceMetrics, loadMeter } from './metrics.ts'
import { type ReloadReadFile, watchServiceTrust } from './reload.ts'

/** The service, ready to serve, and what stops its background work. */
export interface StartedService {
  app: Hono
  /** Stops watching the trust files and closes the verifier; call it once the server closed. */
  close(): void
}

/** What an entry point hands {@link startService} from its runtime. */
export interface RuntimeDeps {
  getConnInfo: GetConnInfo
  /** Reads a trust file again when it changes. */
  readFile: ReloadReadFile
  log: Logger
}

/**
 * The app on one TrustVerifier that the trust files' watch updates, with metrics when an
 * OpenTelemetry SDK is registered.
 */
export async function startService(config: ServiceConfig, deps: RuntimeDeps): Promise<StartedService> {
  const { getConnInfo, readFile, log } = deps
  const trust = config.trust === null ? null : createTrustVerifier(config.trust)
  const meter = await loadMeter()
  const metrics = meter === null ? null : createServiceMetrics(meter)
  const app = createServiceApp(config, { getConnInfo, trust: trust ?? undefined, log, metrics })
  const reload = watchServiceTrust(config, trust, { readFile, log })
  return {
    app,
    close() {
      reload?.close()
      trust?.close()
    },
  }
}

/**
 * The configuration, or — for a ConfigError — its message logged at level error (with `issues`,
 * one line per bad variable) and `exit(1)`, before the server listens. `readFile` reads
 * `TRUSTED_CA_CERTS` and `CRL_FILES` given as paths. Any other error is a bug and is thrown as is.
 */
export function loadConfigOrExit(
  env: Record<string, string | undefined>,
  exit: (code: number) => never,
  log: Logger,
  readFile?: ReadFile
): ServiceConfig {
  try {
    return parseServiceConfig(env, { readFile })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    log.error(error.message, { issues: error.issues })
    return exit(1)
  }
}

/**
 * The one line logged at start: where it listens and the configuration as counts. The
 * allowlists, CAs and proxy ranges are not secrets, but the log is no place for them; the backend
 * URL is left out as it may carry credentials, and the Dapr token and file contents as secrets.
 */
export function logStartup(
  log: Logger,
  config: ServiceConfig,
  address: { address: string; port: number }
): void {
  const host = address.address.includes(':') ? `[${address.address}]` : address.address
  const url = `http://${host}:${address.port}`
  const { trust, trustFiles } = config
  const watched = trust === null ? 0 : (trustFiles.caBundle === null ? 0 : 1) + trustFiles.crls.length
  log.info(`certgate service listening on ${url}`, {
    url,
    client_cert_mode: config.clientCertMode,
    client_cert_source: config.clientCertSource,
    dapr_invoked: config.refuseDaprInvoked ? 'refused' : 'read',
    allowed_thumbprints: config.allowedThumbprints.length,
    allowed_common_names: config.allowedCommonNames.length,
    trust: trust === null ? 'off' : 'on',
    trust_roots: trust?.roots.length ?? 0,
    trust_intermediates: trust?.intermediates.length ?? 0,
    trust_crls: trust?.crls.length ?? 0,
    // Seconds between checks of the files trust was read from; 0 when none is watched.
    trust_reload_seconds: watched === 0 ? 0 : config.trustReloadSeconds,
    trust_files_watched: config.trustReloadSeconds === 0 ? 0 : watched,
    // null: no address check runs (zero ranges would read as "nobody").
    trusted_proxy_ranges: config.trustedProxies?.length ?? null,
  })
}
