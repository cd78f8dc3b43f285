/**
 * The W3C Trace Context headers the service passes on to its outbound calls, so that a call joins
 * the caller's trace: `traceparent` only when it is valid, `tracestate` only beside a valid
 * `traceparent` and only when valid itself. Anything else is dropped rather than repaired, as the
 * Trace Context rules ask of a participant that cannot parse what it received.
 * @module
 */

// version-traceid-parentid-flags, lowercase hex. Version `ff` is invalid, and so are all-zero
// ids. Version 00 is exactly these 55 characters; a later version may append fields after a `-`
// (printable, no spaces or commas: a comma would mean two headers folded into one).
const IDS_AND_FLAGS = '(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}'
const TRACEPARENT_00 = new RegExp(`^00-${IDS_AND_FLAGS}$`)
const TRACEPARENT_LATER = new RegExp(
  `^(?!00|ff)[0-9a-f]{2}-${IDS_AND_FLAGS}(-[\\x21-\\x2B\\x2D-\\x7E]*)?$`
)
const TRACEPARENT_MAX_CHARS = 512

// A list member: `key=value`. A key is lowercase (`tenant@system` for multi-tenant keys); a value
// is printable ASCII without `,` or `=`, may hold inner spaces but does not end with one.
const KEY = '(?:[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})'
const VALUE = '[\\x20-\\x2B\\x2D-\\x3C\\x3E-\\x7E]{0,255}[\\x21-\\x2B\\x2D-\\x3C\\x3E-\\x7E]'
const TRACESTATE_MEMBER = new RegExp(`^${KEY}=${VALUE}$`)
const TRACESTATE_MAX_MEMBERS = 32
const TRACESTATE_MAX_CHARS = 512

/** The trace headers to send on: `{}`, `{ traceparent }`, or both. */
export function traceHeaders(incoming: Headers): Record<string, string> {
  const traceparent = incoming.get('traceparent')
  if (traceparent === null || !isValidTraceparent(traceparent)) return {}
  const tracestate = incoming.get('tracestate')
  return tracestate === null || !isValidTracestate(tracestate)
    ? { traceparent }
    : { traceparent, tracestate }
}

/** The trace id (32 lowercase hex) of a valid `traceparent`, else null: what logs carry. */
export function traceId(incoming: Headers): string | null {
  const traceparent = incoming.get('traceparent')
  if (traceparent === null || !isValidTraceparent(traceparent)) return null
  return traceparent.slice(3, 35)
}

function isValidTraceparent(value: string): boolean {
  if (value.length > TRACEPARENT_MAX_CHARS) return false
  return TRACEPARENT_00.test(value) || TRACEPARENT_LATER.test(value)
}

/** Comma-separated members around optional spaces and tabs; empty members are allowed. */
function isValidTracestate(value: string): boolean {
  if (value.length > TRACESTATE_MAX_CHARS) return false
  const members = value.split(',').map((member) => member.replace(/^[ \t]+|[ \t]+$/g, ''))
  const present = members.filter((member) => member !== '')
  if (present.length > TRACESTATE_MAX_MEMBERS) return false
  return present.every((member) => TRACESTATE_MEMBER.test(member))
}
