/**
 * The reference service's configuration: read from an environment object once at startup,
 * validated with valibot, and reported as one message that names every bad variable at once, so
 * a misconfigured container fails its first start with the whole list instead of one fix per
 * restart. Web APIs only: the caller passes the environment in, and a function to read files
 * with (for `TRUSTED_CA_CERTS` and `CRL_FILES` given as paths), so this module never touches a
 * file system itself and tests can hand it files from memory.
 * @module
 */

import * as v from 'valibot'
import { decodeCrlInput, parseCrl } from '../trust/revocation.ts'
import { decodeBase64, encodePem } from '../x509/pem.ts'
import { parseCidr } from '../proxy/cidr.ts'
import { SOURCE_NAMES, type SourceName } from '../sources/index.ts'
import { type CertificateFields, readCertificateFields } from '../x509/fields.ts'

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
  'TRUSTED_PROXY_CIDRS',
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
  /** `TRUSTED_PROXY_CIDRS` as written (trimmed), or null: the header counts from any address. */
  trustedProxies: string[] | null
}

/** What `TRUSTED_CA_CERTS` and `CRL_FILES` resolve to: `TrustOptions` for the verifier. */
export interface ServiceTrust {
  /**
   * One PEM certificate each: the bundle's self-signed CAs, and any CA whose issuer the bundle
   * does not hold (listing an intermediate without its root anchors trust at that intermediate).
   */
  roots: string[]
  /** One PEM certificate each: the bundle's CAs issued by another certificate in the bundle. */
  intermediates: string[]
  /** DER CRLs, every one from every file of `CRL_FILES`. */
  crls: Uint8Array[]
}

/**
 * Reads a whole file, synchronously (configuration is read once, before the server starts):
 * Node's and Bun's `readFileSync`, Deno's `Deno.readFileSync`. Throws when it cannot.
 */
export type ReadFile = (path: string) => Uint8Array

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

const SHA256_HEX = /^[0-9A-F]{64}$/
const SHA1_HEX = /^[0-9A-F]{40}$/
const DIGITS = /^[0-9]+$/
const DAPR_APP_ID = /^[A-Za-z0-9._-]+$/
// The token travels as an HTTP header value; a stray newline from a mounted secret file would
// otherwise only surface as a failed request long after startup.
const HEADER_TOKEN = /^[\x21-\x7E]+$/

const MUST_BE_STRING = 'must be a string'

/** Shows a received value in a message without letting a huge value flood the log. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** An integer variable in [min, max]; digits only, because `Number()` accepts '0x10' and '1e3'. */
function integerVar(
  min: number,
  max: number,
  fallback: number
): v.GenericSchema<string | undefined, number> {
  const range = `must be an integer from ${min} to ${max}`
  return v.optional(
    v.pipe(
      v.string(MUST_BE_STRING),
      v.regex(DIGITS, (issue) =>
        issue.input === ''
          ? `must not be empty (unset it to use the default ${fallback})`
          : `${range} (got ${shown(issue.input)})`
      ),
      v.transform(Number),
      v.minValue(min, (issue) => `${range} (got ${issue.input})`),
      v.maxValue(max, (issue) => `${range} (got ${issue.input})`)
    ),
    String(fallback)
  )
}

/** Splits a comma list, keeping empty entries so that issue indexes match what the user wrote. */
function splitList(value: string): string[] {
  return value.split(',').map((entry) => entry.trim())
}

/** Drops the empty entries (from `a,,b` or a trailing comma) and duplicates. */
function compactList(entries: string[]): string[] {
  return [...new Set(entries.filter((entry) => entry !== ''))]
}

/** Accepts `AB:CD…`, `ab cd …` and a `sha256:` prefix; returns bare uppercase hex. */
function normaliseThumbprint(entry: string): string {
  return entry.replace(/^sha256:/i, '').replace(/[\s:]/g, '').toUpperCase()
}

const Thumbprint = v.pipe(
  v.string(MUST_BE_STRING),
  v.transform(normaliseThumbprint),
  v.check(
    (entry) => entry === '' || SHA256_HEX.test(entry),
    (issue) =>
      SHA1_HEX.test(issue.input)
        ? 'is a SHA-1 thumbprint (40 hex digits); SHA-256 is required (64 hex digits)'
        : 'is not a SHA-256 thumbprint (64 hex digits)'
  )
)

const Thumbprints = v.optional(
  v.pipe(
    v.string(MUST_BE_STRING),
    v.transform(splitList),
    v.array(Thumbprint),
    v.transform(compactList)
  ),
  ''
)

/** The recipe's CN, admitted only when no allowlist is configured at all. */
const DEFAULT_COMMON_NAME = 'api-client.contoso.com'

// No default here: whether the default CN applies depends on ALLOWED_CERT_THUMBPRINTS.
const CommonNames = v.optional(
  v.pipe(v.string(MUST_BE_STRING), v.transform(splitList), v.transform(compactList))
)

/** Why a backend URL is unusable, or null when it is fine. */
function backendUrlProblem(value: string): string | null {
  if (value === '') return 'must not be empty (unset it to use the default http://ca-backend)'
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return 'must be an absolute http(s) URL'
  }
  if (value !== value.trim()) return 'must not have surrounding whitespace'
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http: or https:'
  // Checked on the text: `http://x/?` parses to an empty `search`, yet still has a query.
  if (value.includes('?') || value.includes('#')) return 'must not have a query or fragment'
  return null
}

const BackendUrl = v.optional(
  v.pipe(
    v.string(MUST_BE_STRING),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return
      const problem = backendUrlProblem(dataset.value)
      if (problem !== null) addIssue({ message: problem })
    }),
    v.transform((value) => new URL(value).href.replace(/\/+$/, ''))
  ),
  'http://ca-backend'
)

const AppId = v.optional(
  v.pipe(
    v.string(MUST_BE_STRING),
    v.regex(DAPR_APP_ID, (issue) =>
      issue.input === ''
        ? 'must not be empty (unset it to use the default backend)'
        : "must be a Dapr app-id: letters, digits, '-', '_' and '.' only " +
          `(got ${shown(issue.input)})`
    )
  ),
  'backend'
)

const ApiToken = v.optional(
  v.pipe(
    v.string(MUST_BE_STRING),
    // Never echo the value: it is a secret.
    v.check(
      (token) => token === '' || HEADER_TOKEN.test(token),
      'must be printable ASCII without spaces or line breaks (it is sent as an HTTP header)'
    ),
    v.transform((token): string | null => (token === '' ? null : token))
  ),
  ''
)

const CertMode = v.optional(
  v.pipe(
    v.string(MUST_BE_STRING),
    v.transform((mode) => mode.toLowerCase()),
    v.picklist(
      ['require', 'accept'],
      (issue) => `must be "require" or "accept" (got ${shown(issue.input)})`
    )
  ),
  'require'
)

const CertSource = v.optional(
  v.pipe(
    v.string(MUST_BE_STRING),
    v.transform((name) => name.toLowerCase()),
    v.picklist(
      SOURCE_NAMES,
      (issue) => `must be one of ${SOURCE_NAMES.join(', ')} (got ${shown(issue.input)})`
    )
  ),
  'xfcc'
)

const ProxyCidr = v.pipe(
  v.string(MUST_BE_STRING),
  v.check(
    (entry) => entry === '' || isCidr(entry),
    (issue) => `is not a CIDR or IP address (got ${shown(issue.input)})`
  )
)

// Unset means no check; an empty list would refuse every request, so it is a mistake, not a choice.
const ProxyCidrs = v.optional(
  v.pipe(
    v.string(MUST_BE_STRING),
    v.transform(splitList),
    v.array(ProxyCidr),
    v.transform(compactList),
    v.check(
      (entries) => entries.length > 0,
      'must list at least one CIDR or IP (unset it to honour the header from any address)'
    )
  )
)

/** Whether `parseCidr` (the verifier's own parser) accepts the entry. */
function isCidr(entry: string): boolean {
  try {
    parseCidr(entry)
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// TRUSTED_CA_CERTS and CRL_FILES

const PEM_BEGIN = '-----BEGIN'
// Text around the blocks (OpenSSL's `subject=` lines, comments) is ignored, as OpenSSL does.
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g

/** A value resolved to text or bytes, or why it could not be. */
type Resolved<T> = { ok: true; value: T } | { ok: false; problem: string }

function problem<T>(why: string): Resolved<T> {
  return { ok: false, problem: why }
}

/** Reads a file through the caller's reader; the failure names the file and the error's code. */
function readWith(readFile: ReadFile | undefined, path: string): Resolved<Uint8Array> {
  if (readFile === undefined) {
    return problem(`cannot read ${shown(path)}: no file reader was given`)
  }
  try {
    return { ok: true, value: readFile(path) }
  } catch (error) {
    const code = (error as { code?: unknown; name?: unknown } | null)?.code
    const name = (error as { name?: unknown } | null)?.name
    const reason = typeof code === 'string' ? code : typeof name === 'string' ? name : 'error'
    return problem(`cannot read ${shown(path)} (${reason})`)
  }
}

function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes)
}

/** The certificates of PEM text, or of one DER certificate when the file holds no PEM. */
function bundleCertificates(text: string, bytes: Uint8Array | null): Resolved<Uint8Array[]> {
  if (!text.includes(PEM_BEGIN)) {
    return bytes === null ? problem('holds no PEM') : { ok: true, value: [bytes] }
  }
  const ders: Uint8Array[] = []
  for (const match of text.matchAll(CERTIFICATE_BLOCK)) {
    try {
      ders.push(decodeBase64(match[1]!))
    } catch {
      return problem(`certificate ${ders.length + 1} is not valid base64`)
    }
  }
  return ders.length === 0 ? problem('holds no CERTIFICATE PEM block') : { ok: true, value: ders }
}

/** Name comparison as the trust verifier does it: case-folded, whitespace runs collapsed. */
function nameKey(dn: string): string {
  return dn.toLowerCase().replace(/\s+/g, ' ')
}

function isSelfIssued(fields: CertificateFields): boolean {
  const { authorityKeyIdentifier: aki, subjectKeyIdentifier: ski } = fields
  const sameName = nameKey(fields.subject) === nameKey(fields.issuer)
  return sameName && (aki === null || ski === null || aki === ski)
}

/**
 * Splits the bundle: self-signed CAs are roots, CAs issued by another certificate of the bundle
 * intermediates, and a CA whose issuer the bundle lacks is a root too (the operator listed it as
 * trusted; as an intermediate it could never complete a path). Every certificate must be a CA:
 * a leaf in a CA bundle (a `fullchain.pem`) is a mistake worth stopping for.
 */
function splitBundle(ders: Uint8Array[]): Resolved<Omit<ServiceTrust, 'crls'>> {
  const certs: Array<{ der: Uint8Array; fields: CertificateFields }> = []
  for (const [i, der] of ders.entries()) {
    let fields: CertificateFields
    try {
      fields = readCertificateFields(der)
    } catch {
      return problem(`certificate ${i + 1} is not a parsable X.509 certificate`)
    }
    if (fields.basicConstraints?.ca !== true) {
      return problem(
        `certificate ${i + 1} (${shown(fields.subject)}) is not a CA certificate ` +
          '(basicConstraints cA is not true)'
      )
    }
    certs.push({ der, fields })
  }
  const subjects = new Set(certs.map(({ fields }) => nameKey(fields.subject)))
  const roots: string[] = []
  const intermediates: string[] = []
  for (const { der, fields } of certs) {
    const pem = encodePem(der)
    if (roots.includes(pem) || intermediates.includes(pem)) continue
    if (isSelfIssued(fields) || !subjects.has(nameKey(fields.issuer))) roots.push(pem)
    else intermediates.push(pem)
  }
  return { ok: true, value: { roots, intermediates } }
}

/** `TRUSTED_CA_CERTS`: PEM text itself (it starts with `-----BEGIN`), or a file's path. */
function resolveCaBundle(
  value: string,
  readFile: ReadFile | undefined
): Resolved<Omit<ServiceTrust, 'crls'>> {
  if (value.trim() === '') {
    return problem('must not be empty (unset it to turn chain validation off)')
  }
  let certificates: Resolved<Uint8Array[]>
  if (value.trimStart().startsWith(PEM_BEGIN)) {
    // A PEM pasted into a single-line setting (an ACA env var) often carries a literal `\n`.
    certificates = bundleCertificates(value.replace(/\\r\\n|\\n|\\r/g, '\n'), null)
  } else {
    const read = readWith(readFile, value)
    if (!read.ok) return read
    const found = bundleCertificates(utf8(read.value), read.value)
    certificates = found.ok ? found : problem(`the file ${shown(value)} ${found.problem}`)
  }
  return certificates.ok ? splitBundle(certificates.value) : certificates
}

/** One `CRL_FILES` entry: a file of PEM (`X509 CRL` blocks) or DER, every CRL in it parsed. */
function resolveCrlFile(path: string, readFile: ReadFile | undefined): Resolved<Uint8Array[]> {
  if (path === '') return { ok: true, value: [] }
  const read = readWith(readFile, path)
  if (!read.ok) return read
  const text = utf8(read.value)
  let ders: Uint8Array[]
  try {
    ders = decodeCrlInput(text.includes(PEM_BEGIN) ? text : read.value, 'the file')
    for (const der of ders) parseCrl(der)
  } catch {
    return problem(`${shown(path)} holds no CRL (PEM X509 CRL blocks, or DER)`)
  }
  // Plain copies: a runtime's reader may hand out a Buffer, or a view of a larger one.
  return { ok: true, value: ders.map((der) => new Uint8Array(der)) }
}

/** A string variable resolved by `resolve`, its problem reported as the variable's issue. */
function resolvedVar<T>(
  resolve: (value: string) => Resolved<T>
): v.GenericSchema<string, T> {
  return v.pipe(
    v.string(MUST_BE_STRING),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const resolved = resolve(dataset.value)
      if (resolved.ok) return resolved.value
      addIssue({ message: resolved.problem })
      return NEVER
    })
  )
}

/** The environment after validation, before defaults that depend on each other apply. */
interface ValidatedEnv {
  PORT: number
  ALLOWED_CERT_THUMBPRINTS: string[]
  ALLOWED_CERT_COMMON_NAMES?: string[]
  DIRECT_BACKEND_URL: string
  DAPR_HTTP_PORT: number
  DAPR_TARGET_APP_ID: string
  DAPR_API_TOKEN: string | null
  OUTBOUND_TIMEOUT_MS: number
  CLIENT_CERT_MODE: 'require' | 'accept'
  CLIENT_CERT_SOURCE: SourceName
  TRUSTED_CA_CERTS?: Omit<ServiceTrust, 'crls'>
  CRL_FILES: Uint8Array[]
  TRUSTED_PROXY_CIDRS?: string[]
}

/**
 * The schema, per call: the CA bundle and CRL files are read with the caller's `readFile`, and
 * `CRL_FILES` without `TRUSTED_CA_CERTS` is refused before any of its files is read.
 */
function envSchema(
  env: Record<string, string | undefined>,
  readFile: ReadFile | undefined
): v.GenericSchema<unknown, ValidatedEnv> {
  const hasCaBundle = env.TRUSTED_CA_CERTS !== undefined
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
      TRUSTED_CA_CERTS: v.optional(resolvedVar((value) => resolveCaBundle(value, readFile))),
      CRL_FILES: v.optional(
        v.pipe(
          v.string(MUST_BE_STRING),
          // A failed check stops the pipe before its transforms: no file is read for nothing.
          v.check(
            (value) => hasCaBundle || compactList(splitList(value)).length === 0,
            'needs TRUSTED_CA_CERTS (revocation is checked on chains validated to your CAs)'
          ),
          v.transform(splitList),
          v.array(resolvedVar((path) => resolveCrlFile(path, readFile))),
          v.transform((files) => files.flat())
        ),
        ''
      ),
      TRUSTED_PROXY_CIDRS: ProxyCidrs,
    }),
    // A partial check still runs when unrelated variables are bad, so this is reported with them.
    v.partialCheck(
      [['ALLOWED_CERT_THUMBPRINTS'], ['ALLOWED_CERT_COMMON_NAMES']],
      (env) =>
        env.ALLOWED_CERT_THUMBPRINTS.length > 0 ||
        env.ALLOWED_CERT_COMMON_NAMES === undefined ||
        env.ALLOWED_CERT_COMMON_NAMES.length > 0,
      'ALLOWED_CERT_THUMBPRINTS and ALLOWED_CERT_COMMON_NAMES are both empty, so the service ' +
        'would refuse every client certificate; set at least one of them'
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
    // Pinning thumbprints must not also admit anyone who mints a certificate with the default CN.
    allowedCommonNames:
      out.ALLOWED_CERT_COMMON_NAMES ?? (out.ALLOWED_CERT_THUMBPRINTS.length > 0 ? [] : [DEFAULT_COMMON_NAME]),
    directBackendUrl: out.DIRECT_BACKEND_URL,
    daprHttpPort: out.DAPR_HTTP_PORT,
    daprTargetAppId: out.DAPR_TARGET_APP_ID,
    daprApiToken: out.DAPR_API_TOKEN,
    outboundTimeoutMs: out.OUTBOUND_TIMEOUT_MS,
    clientCertMode: out.CLIENT_CERT_MODE,
    clientCertSource: out.CLIENT_CERT_SOURCE,
    trust:
      out.TRUSTED_CA_CERTS === undefined ? null : { ...out.TRUSTED_CA_CERTS, crls: out.CRL_FILES },
    trustedProxies: out.TRUSTED_PROXY_CIDRS ?? null,
  }
}
