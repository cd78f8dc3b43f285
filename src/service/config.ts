/**
 * The reference service's configuration: read from an environment object once at startup,
 * validated with valibot, and reported as one message that names every bad variable at once, so
 * a misconfigured container fails its first start with the whole list instead of one fix per
 * restart. Web APIs only: the caller passes the environment in, and a function to read files
 * with (for `TRUSTED_CA_CERTS` and `CRL_FILES` given as paths), so no module here touches a
 * file system itself and tests can hand it files from memory. Each variable's schema lives in
 * `config-vars.ts`, the trust variables' in `config-trust.ts`.
 * @module
 */

import * as v from 'valibot'
import type { CaBundle, SourceName } from '../index.ts'
import { caBundleVar, crlFilesVar, type TrustFiles, trustFiles } from './config-trust.ts'
import {
  ApiToken,
  AppId,
  BackendUrl,
  booleanVar,
  CertMode,
  CertSource,
  CommonNames,
  integerVar,
  ProxyCidrs,
  Thumbprints,
} from './config-vars.ts'

export type { ReadFile, TrustFiles } from './config-trust.ts'
import type { ReadFile } from './config-trust.ts'

/**
 * Every environment variable the service reads (HOST by the entry points, the rest here): for
 * tools that start it with a clean environment.
 */
export const SERVICE_VARIABLES: readonly string[] = [
  'PORT',
  'HOST',
  'ALLOWED_CERT_THUMBPRINTS',
  'ALLOWED_CERT_COMMON_NAMES',
  'DIRECT_BACKEND_URL',
  'DAPR_HTTP_PORT',
  'DAPR_TARGET_APP_ID',
  'DAPR_API_TOKEN',
  'OUTBOUND_TIMEOUT_MS',
  'CLIENT_CERT_MODE',
  'CLIENT_CERT_SOURCE',
  'TRUSTED_CA_CERTS',
  'CRL_FILES',
  'TRUST_RELOAD_SECONDS',
  'TRUSTED_PROXY_CIDRS',
  'REFUSE_DAPR_INVOKED',
]

/** The validated configuration of the reference service. */
export interface ServiceConfig {
  port: number
  /** Uppercase 64-hex SHA-256 thumbprints. */
  allowedThumbprints: string[]
  allowedCommonNames: string[]
  /** Absolute http(s) URL without a trailing `/`, query or fragment. */
  directBackendUrl: string
  daprHttpPort: number
  daprTargetAppId: string
  daprApiToken: string | null
  outboundTimeoutMs: number
  clientCertMode: 'require' | 'accept'
  /** Where the forwarded certificate is read from: one of `SOURCE_NAMES`. */
  clientCertSource: SourceName
  /** Chain validation to `TRUSTED_CA_CERTS` (with `CRL_FILES`), or null: allowlists only. */
  trust: ServiceTrust | null
  /** The files `trust` was read from, watched for changes while `trustReloadSeconds` > 0. */
  trustFiles: TrustFiles
  /** How often the trust files are checked for changes; 0: never (read once at startup). */
  trustReloadSeconds: number
  /** `TRUSTED_PROXY_CIDRS` as written (trimmed), or null: the header counts from any address. */
  trustedProxies: string[] | null
  /** Refuse requests that came through the Dapr sidecar before reading any certificate. */
  refuseDaprInvoked: boolean
}

/** What `TRUSTED_CA_CERTS` and `CRL_FILES` resolve to: `TrustOptions` for the verifier. */
export interface ServiceTrust extends CaBundle {
  /** DER CRLs, every one from every file of `CRL_FILES`. */
  crls: Uint8Array[]
}

/** Options for {@link parseServiceConfig}. */
export interface ParseServiceConfigOptions {
  /** Without it, `TRUSTED_CA_CERTS` must be PEM text and `CRL_FILES` must be unset. */
  readFile?: ReadFile
}

/** Thrown by `parseServiceConfig`; `message` lists every problem, one line each. */
export class ConfigError extends Error {
  /** One line per problem, each starting with the variable name. */
  readonly issues: string[]

  constructor(issues: string[]) {
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`
    super(`Invalid configuration (${count}):\n${issues.map((line) => `  - ${line}`).join('\n')}`)
    this.name = 'ConfigError'
    this.issues = issues
  }
}

/** The environment after validation, before defaults that depend on each other apply. */
interface ValidatedEnv {
  PORT: number
  ALLOWED_CERT_THUMBPRINTS: string[]
  ALLOWED_CERT_COMMON_NAMES: string[]
  DIRECT_BACKEND_URL: string
  DAPR_HTTP_PORT: number
  DAPR_TARGET_APP_ID: string
  DAPR_API_TOKEN: string | null
  OUTBOUND_TIMEOUT_MS: number
  CLIENT_CERT_MODE: 'require' | 'accept'
  CLIENT_CERT_SOURCE: SourceName
  TRUSTED_CA_CERTS?: CaBundle
  CRL_FILES: Uint8Array[]
  TRUST_RELOAD_SECONDS: number
  TRUSTED_PROXY_CIDRS?: string[]
  REFUSE_DAPR_INVOKED: boolean
}

/**
 * The schema, per call: the CA bundle and CRL files are read with the caller's `readFile`, and
 * `CRL_FILES` without `TRUSTED_CA_CERTS` is refused before any of its files is read.
 */
function envSchema(
  env: Record<string, string | undefined>,
  readFile: ReadFile | undefined
): v.GenericSchema<unknown, ValidatedEnv> {
  const trustVars = { readFile, caBundleSet: env.TRUSTED_CA_CERTS !== undefined }
  return v.pipe(
    v.object({
      PORT: integerVar(1, 65535, 8000),
      ALLOWED_CERT_THUMBPRINTS: Thumbprints,
      ALLOWED_CERT_COMMON_NAMES: CommonNames,
      DIRECT_BACKEND_URL: BackendUrl,
      DAPR_HTTP_PORT: integerVar(1, 65535, 3500),
      DAPR_TARGET_APP_ID: AppId,
      DAPR_API_TOKEN: ApiToken,
      OUTBOUND_TIMEOUT_MS: integerVar(1, 600_000, 5000),
      CLIENT_CERT_MODE: CertMode,
      CLIENT_CERT_SOURCE: CertSource,
      TRUSTED_CA_CERTS: caBundleVar(trustVars),
      CRL_FILES: crlFilesVar(trustVars),
      TRUST_RELOAD_SECONDS: integerVar(0, 86_400, 5),
      TRUSTED_PROXY_CIDRS: ProxyCidrs,
      REFUSE_DAPR_INVOKED: booleanVar(true),
    }),
    // A partial check still runs when unrelated variables are bad, so this is reported with them.
    // There is no default: any default CN would be one anybody can put in a certificate.
    v.partialCheck(
      [['ALLOWED_CERT_THUMBPRINTS'], ['ALLOWED_CERT_COMMON_NAMES']],
      (env) => env.ALLOWED_CERT_THUMBPRINTS.length > 0 || env.ALLOWED_CERT_COMMON_NAMES.length > 0,
      allowlistMissing(env)
    ),
    // These proxies forward whatever certificate the client showed without verifying it.
    v.partialCheck(
      [['CLIENT_CERT_SOURCE'], ['TRUSTED_CA_CERTS']],
      (env) => !UNVERIFIED_SOURCES.has(env.CLIENT_CERT_SOURCE) || env.TRUSTED_CA_CERTS !== undefined,
      'CLIENT_CERT_SOURCE alb-passthrough and app-service forward certificates the proxy never ' +
        'verified; set TRUSTED_CA_CERTS to validate them'
    )
  )
}

const UNVERIFIED_SOURCES: ReadonlySet<string> = new Set(['alb-passthrough', 'app-service'])

/** Why no client could ever be admitted, and which variables to set. */
function allowlistMissing(env: Record<string, string | undefined>): string {
  const set =
    env.ALLOWED_CERT_THUMBPRINTS !== undefined || env.ALLOWED_CERT_COMMON_NAMES !== undefined
  return (
    (set
      ? 'ALLOWED_CERT_THUMBPRINTS and ALLOWED_CERT_COMMON_NAMES are both empty, so the service ' +
        'would refuse every client certificate; '
      : 'ALLOWED_CERT_THUMBPRINTS and ALLOWED_CERT_COMMON_NAMES are both unset, and there is ' +
        'no default; ') +
    'set ALLOWED_CERT_THUMBPRINTS to the SHA-256 thumbprints of the client certificates ' +
    '(`certgate inspect <cert.pem>` prints the line), or ALLOWED_CERT_COMMON_NAMES to their CNs'
  )
}

/** `VARIABLE: [entry N ]why`, or the bare message for checks that span variables. */
function formatIssue(issue: v.BaseIssue<unknown>): { key: string; line: string } {
  const path = issue.path ?? []
  if (path.length === 0) return { key: issue.message, line: issue.message }
  const variable = String(path[0]!.key)
  const entry = path[1]?.type === 'array' ? `entry ${Number(path[1].key) + 1}` : null
  return entry === null
    ? { key: variable, line: `${variable}: ${issue.message}` }
    : { key: `${variable} ${entry}`, line: `${variable}: ${entry} ${issue.message}` }
}

/**
 * Validates the environment and returns the service configuration.
 * Unknown variables are ignored; a variable that is unset takes its default, but one that is set
 * to an empty string is an error for numbers, URLs, the CA bundle and the proxy list (an empty
 * allowlist or `CRL_FILES` is a valid list). Files named by `TRUSTED_CA_CERTS` and `CRL_FILES`
 * are read with `options.readFile`; one that cannot be read is an error naming the variable.
 * @throws {ConfigError} naming every bad variable and why.
 */
export function parseServiceConfig(
  env: Record<string, string | undefined>,
  options: ParseServiceConfigOptions = {}
): ServiceConfig {
  const result = v.safeParse(envSchema(env, options.readFile), env)
  if (!result.success) {
    // One line per variable (or list entry): the first reason is the one worth fixing first.
    const lines = new Map<string, string>()
    for (const issue of result.issues) {
      const { key, line } = formatIssue(issue)
      if (!lines.has(key)) lines.set(key, line)
    }
    throw new ConfigError([...lines.values()])
  }
  const out = result.output
  return {
    port: out.PORT,
    allowedThumbprints: out.ALLOWED_CERT_THUMBPRINTS,
    allowedCommonNames: out.ALLOWED_CERT_COMMON_NAMES,
    directBackendUrl: out.DIRECT_BACKEND_URL,
    daprHttpPort: out.DAPR_HTTP_PORT,
    daprTargetAppId: out.DAPR_TARGET_APP_ID,
    daprApiToken: out.DAPR_API_TOKEN,
    outboundTimeoutMs: out.OUTBOUND_TIMEOUT_MS,
    clientCertMode: out.CLIENT_CERT_MODE,
    clientCertSource: out.CLIENT_CERT_SOURCE,
    trust:
      out.TRUSTED_CA_CERTS === undefined ? null : { ...out.TRUSTED_CA_CERTS, crls: out.CRL_FILES },
    trustFiles: trustFiles(env),
    trustReloadSeconds: out.TRUST_RELOAD_SECONDS,
    trustedProxies: out.TRUSTED_PROXY_CIDRS ?? null,
    refuseDaprInvoked: out.REFUSE_DAPR_INVOKED,
  }
}
