/**
 * Reloading the service's trust material: the file `TRUSTED_CA_CERTS` names and every
 * `CRL_FILES` file are watched with the library's `watchTrustFiles` every
 * `TRUST_RELOAD_SECONDS`, so a CA bundle or a CRL replaced on disk (by a rename, as Kubernetes
 * and ACA secret volumes do, or in place) takes effect without a restart. A file that does not
 * parse keeps the previous material; each event is one log line. Web APIs only: the entry
 * point passes its runtime's file reader.
 * @module
 */
import { type TrustVerifier, watchTrustFiles } from '../index.ts'
import type { ServiceConfig } from './config.ts'
import type { Logger } from './log.ts'

/** Reads a whole file for a reload; asynchronous, so a slow volume never blocks a request. */
export type ReloadReadFile = (path: string) => Uint8Array | Promise<Uint8Array>

/** A running watch. */
export interface TrustReload {
  close(): void
}

const MAX_REASON_CHARS = 300

/**
 * Watches the trust files of `config` for `verifier`; null when there is nothing to watch (no
 * trust, PEM text rather than files, or `TRUST_RELOAD_SECONDS=0`).
 */
export function watchServiceTrust(
  config: ServiceConfig,
  verifier: TrustVerifier | null,
  options: { readFile: ReloadReadFile; log: Logger }
): TrustReload | null {
  const { caBundle, crls } = config.trustFiles
  if (verifier === null || config.trustReloadSeconds === 0) return null
  if (caBundle === null && crls.length === 0) return null
  const { log } = options
  return watchTrustFiles(verifier, {
    bundles: caBundle === null ? [] : [caBundle],
    crls,
    readFile: options.readFile,
    intervalMs: config.trustReloadSeconds * 1000,
    onReload: ({ version, files }) => log.info('trust material reloaded', { version, files }),
    onError: (error, path) =>
      log.error('trust file not reloaded; the previous material stays in force', {
        path,
        reason: error.message.slice(0, MAX_REASON_CHARS),
      }),
    onCrlExpiring: ({ path, issuer, nextUpdate }) =>
      log.warn('CRL file about to go stale; replace it before next_update', {
        path,
        issuer,
        next_update: nextUpdate.toISOString(),
      }),
  })
}
