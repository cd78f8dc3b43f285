/**
 * Outbound calls of the reference service: a JSON GET whose one deadline covers connecting, the
 * headers and the whole body, with the body size capped, and every failure turned into a coded
 * `CertgateError` whose message is safe to show to the client. Web APIs only, so it runs on
 * Node, Bun and Deno.
 * @module
 */

import { BodyReadError, CertgateError, fetchWithDeadline, readBody } from '../index.ts'

/** Options of `getJson`. */
export interface OutboundOptions {
  /** One deadline for the whole exchange: connect, headers and body. */
  timeoutMs: number
  /** Default 1 MiB. Counted while streaming; Content-Length is only a shortcut. */
  maxBodyBytes?: number
  headers?: Record<string, string>
  fetch?: typeof fetch
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
// An error body is only read to find Dapr's error JSON; it need not be large.
const MAX_ERROR_BODY_BYTES = 64 * 1024
const MAX_UPSTREAM_MESSAGE_CHARS = 200
// The reply is echoed to the client; serialising a deeply nested value recurses once per level
// and overflows the stack long before the size cap is reached (1 MiB of `[` is a million levels).
const MAX_JSON_DEPTH = 64

/** Marks the deadline as the reason, so a rejection can be told apart from a network failure. */
class DeadlineExceeded extends Error {
  constructor() {
    super('Outbound deadline exceeded')
    this.name = 'DeadlineExceeded'
  }
}

/**
 * GETs `url` and resolves the parsed JSON of a 2xx answer. Redirects are not followed (a 3xx is an
 * `ERR_UPSTREAM_STATUS`), so headers such as a Dapr API token never reach another host.
 * @throws {CertgateError} `ERR_UPSTREAM_UNREACHABLE`, `ERR_UPSTREAM_TIMEOUT`,
 *   `ERR_UPSTREAM_STATUS` (extensions `upstreamStatus` and, for Dapr's error JSON,
 *   `upstreamError`) or `ERR_UPSTREAM_BODY`.
 * @example
 * const items = await getJson(daprInvokeUrl(3500, 'backend', 'items'), { timeoutMs: 5000 })
 */
export async function getJson(url: string, options: OutboundOptions): Promise<unknown> {
  const { timeoutMs, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, fetch: fetchImpl = globalThis.fetch } =
    options
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError('getJson: timeoutMs must be a positive number')
  }
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw new RangeError('getJson: maxBodyBytes must be a non-negative integer')
  }
  const headers = new Headers(options.headers)
  if (!headers.has('accept')) headers.set('accept', 'application/json')

  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new DeadlineExceeded()), timeoutMs)
  try {
    let response: Response
    try {
      response = await fetchWithDeadline(fetchImpl, url, {
        method: 'GET',
        headers,
        redirect: 'manual',
        signal: controller.signal,
      })
    } catch (error) {
      throw controller.signal.aborted
        ? timeoutError(error)
        : new CertgateError('ERR_UPSTREAM_UNREACHABLE', 'Could not reach the upstream service', {
            cause: error,
          })
    }

    if (response.status < 200 || response.status > 299) {
      throw await statusError(response, controller.signal)
    }

    let bytes: Uint8Array
    try {
      bytes = await readBody(response, { maxBytes: maxBodyBytes, signal: controller.signal })
    } catch (error) {
      if (controller.signal.aborted) throw timeoutError(error)
      if (error instanceof BodyReadError && error.reason === 'too-large') {
        throw new CertgateError(
          'ERR_UPSTREAM_BODY',
          `The upstream response body exceeds ${maxBodyBytes} bytes`,
          { cause: error }
        )
      }
      throw new CertgateError(
        'ERR_UPSTREAM_UNREACHABLE',
        'The connection to the upstream service failed while reading its response',
        { cause: error }
      )
    }

    return parseJsonBody(bytes)
  } finally {
    clearTimeout(timer)
  }
}

/** The body as JSON, refused before parsing when it nests deeper than {@link MAX_JSON_DEPTH}. */
function parseJsonBody(bytes: Uint8Array): unknown {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (error) {
    throw notJson(error)
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) {
    throw new CertgateError(
      'ERR_UPSTREAM_BODY',
      `The upstream response body is nested deeper than ${MAX_JSON_DEPTH} levels`
    )
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw notJson(error)
  }
}

function notJson(cause: unknown): CertgateError {
  return new CertgateError('ERR_UPSTREAM_BODY', 'The upstream response body is not valid JSON', {
    cause,
  })
}

/** Whether `[`/`{` outside strings open more than `max` levels at once; one pass, no recursion. */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (inString) {
      if (char === 0x5c) i++ // `\`: the next character is escaped, whatever it is
      else if (char === 0x22) inString = false
    } else if (char === 0x22) {
      inString = true
    } else if (char === 0x5b || char === 0x7b) {
      if (++depth > max) return true
    } else if (char === 0x5d || char === 0x7d) {
      depth--
    }
  }
  return false
}

/**
 * The Dapr sidecar URL that invokes `method` on app `appId`. A method may have several path
 * segments (`api/items`); each is percent-encoded, and `.`/`..` segments are refused because the
 * URL parser would resolve them out of `/method/` into other sidecar APIs.
 */
export function daprInvokeUrl(port: number, appId: string, method: string): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError('daprInvokeUrl: port must be an integer from 1 to 65535')
  }
  if (!isSafeSegment(appId)) throw new RangeError('daprInvokeUrl: invalid app-id')
  const segments = method.replace(/^\/+/, '').split('/')
  if (!segments.every(isSafeSegment)) throw new RangeError('daprInvokeUrl: invalid method path')
  const path = segments.map(encodeURIComponent).join('/')
  return `http://127.0.0.1:${port}/v1.0/invoke/${encodeURIComponent(appId)}/method/${path}`
}

/** Non-empty, and not a segment the URL parser treats as `.` or `..` (also `%2e`, decoded). */
function isSafeSegment(segment: string): boolean {
  let decoded = segment
  try {
    decoded = decodeURIComponent(segment)
  } catch {
    // Not percent-encoded text; encodeURIComponent will escape its `%`.
  }
  return segment !== '' && decoded !== '.' && decoded !== '..'
}

function timeoutError(cause: unknown): CertgateError {
  return new CertgateError('ERR_UPSTREAM_TIMEOUT', 'The upstream service did not answer in time', {
    cause,
  })
}

/** `ERR_UPSTREAM_STATUS`, with Dapr's `{ errorCode, message }` when the body is that JSON. */
async function statusError(response: Response, signal: AbortSignal): Promise<CertgateError> {
  const extensions: Record<string, unknown> = { upstreamStatus: response.status }
  let cause: unknown
  try {
    const bytes = await readBody(response, { maxBytes: MAX_ERROR_BODY_BYTES, signal })
    const upstreamError = daprError(new TextDecoder().decode(bytes))
    if (upstreamError !== null) extensions.upstreamError = upstreamError
  } catch (error) {
    // The status alone is the answer; an unreadable error body only loses the detail.
    cause = error
  }
  return new CertgateError(
    'ERR_UPSTREAM_STATUS',
    `The upstream service answered with status ${response.status}`,
    { extensions, cause }
  )
}

/** Dapr's error JSON, its strings cut to a size fit for a problem document; else null. */
function daprError(text: string): { errorCode: string; message: string } | null {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof body !== 'object' || body === null) return null
  const { errorCode, message } = body as { errorCode?: unknown; message?: unknown }
  if (typeof errorCode !== 'string' || typeof message !== 'string') return null
  return { errorCode: truncate(errorCode), message: truncate(message) }
}

/** At most 200 UTF-16 units, ending in `…` when cut, never splitting a surrogate pair. */
function truncate(text: string): string {
  if (text.length <= MAX_UPSTREAM_MESSAGE_CHARS) return text
  let cut = text.slice(0, MAX_UPSTREAM_MESSAGE_CHARS - 1)
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1)
  return `${cut}…`
}
