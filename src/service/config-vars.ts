/**
 * The schemas of the service's plain environment variables (numbers, allowlists, URLs, modes,
 * proxy CIDRs), each a valibot schema whose issue message says what is wrong with the value, and
 * the helpers they share with the CA bundle and CRL variables.
 * @module
 */

import * as v from 'valibot'
import { createProxyCheck, normaliseThumbprint, SOURCE_NAMES } from '../index.ts'

const DIGITS = /^[0-9]+$/
const DAPR_APP_ID = /^[A-Za-z0-9._-]+$/
// The token travels as an HTTP header value; a stray newline from a mounted secret file would
// otherwise only surface as a failed request long after startup.
const HEADER_TOKEN = /^[\x21-\x7E]+$/

/** The message of every variable whose value is not a string. */
export const MUST_BE_STRING = 'must be a string'

/** Shows a received value in a message without letting a huge value flood the log. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** An integer variable in [min, max]; digits only, because `Number()` accepts '0x10' and '1e3'. */
export function integerVar(
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
export function splitList(value: string): string[] {
  return value.split(',').map((entry) => entry.trim())
}

/** Drops the empty entries (from `a,,b` or a trailing comma) and duplicates. */
export function compactList(entries: string[]): string[] {
  return [...new Set(entries.filter((entry) => entry !== ''))]
}

// A 40-digit entry is a SHA-1 thumbprint copied from a portal that shows both: worth saying so.
const SHA1_HEX = /^[0-9A-F]{40}$/i

/** One entry, normalised by the library's own `normaliseThumbprint`; an empty one stays empty. */
const Thumbprint = v.pipe(
  v.string(MUST_BE_STRING),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const entry = dataset.value
    if (entry === '') return entry
    try {
      return normaliseThumbprint(entry)
    } catch {
      const bare = entry.replace(/^sha-?(1|256):/i, '').replace(/[\s:]/g, '')
      addIssue({
        message: SHA1_HEX.test(bare)
          ? 'is a SHA-1 thumbprint (40 hex digits); SHA-256 is required (64 hex digits)'
          : 'is not a SHA-256 thumbprint (64 hex digits)',
      })
      return NEVER
    }
  })
)

/** `ALLOWED_CERT_THUMBPRINTS`: a comma list of SHA-256 thumbprints, as uppercase hex. */
export const Thumbprints = v.optional(
  v.pipe(
    v.string(MUST_BE_STRING),
    v.transform(splitList),
    v.array(Thumbprint),
    v.transform(compactList)
  ),
  ''
)

/** `ALLOWED_CERT_COMMON_NAMES`: a comma list. */
export const CommonNames = v.optional(
  v.pipe(v.string(MUST_BE_STRING), v.transform(splitList), v.transform(compactList)),
  ''
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

/** `DIRECT_BACKEND_URL`, without a trailing `/`. */
export const BackendUrl = v.optional(
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

/** `DAPR_TARGET_APP_ID`. */
export const AppId = v.optional(
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

/** `DAPR_API_TOKEN`, null when empty. */
export const ApiToken = v.optional(
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

/** A `true`/`false` variable, any case; anything else (`1`, `yes`, empty) is reported. */
export function booleanVar(fallback: boolean): v.GenericSchema<string | undefined, boolean> {
  return v.optional(
    v.pipe(
      v.string(MUST_BE_STRING),
      v.transform((value) => value.toLowerCase()),
      v.picklist(
        ['true', 'false'],
        (issue) => `must be "true" or "false" (got ${shown(issue.input)})`
      ),
      v.transform((value) => value === 'true')
    ),
    String(fallback)
  )
}

/** `CLIENT_CERT_MODE`, lowercased. */
export const CertMode = v.optional(
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

/** `CLIENT_CERT_SOURCE`, lowercased. */
export const CertSource = v.optional(
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

/** `TRUSTED_PROXY_CIDRS`: a comma list of CIDRs and IPs. */
// Unset means no check; an empty list would refuse every request, so it is a mistake, not a choice.
export const ProxyCidrs = v.optional(
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

/** Whether the library's proxy check accepts the entry as a CIDR or IP. */
function isCidr(entry: string): boolean {
  try {
    createProxyCheck({ trustedProxies: [entry] })
    return true
  } catch {
    return false
  }
}
