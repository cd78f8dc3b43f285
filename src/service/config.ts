/**
 * The reference service's configuration: read from an environment object once at startup,
 * validated with valibot, and reported as one message that names every bad variable at once, so
 * a misconfigured container fails its first start with the whole list instead of one fix per
 * restart. Web APIs only: the caller passes the environment in.
 * @module
 */

import * as v from 'valibot'

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

const EnvSchema = v.pipe(
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
  )
)

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
 * to an empty string is an error for numbers and URLs (an empty list is a valid list).
 * @throws {ConfigError} naming every bad variable and why.
 */
export function parseServiceConfig(env: Record<string, string | undefined>): ServiceConfig {
  const result = v.safeParse(EnvSchema, env)
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
  }
}
