/**
 * HTTP responses read within bounds: a byte cap counted while the body streams, and the caller's
 * AbortSignal as the deadline, held even by a fetch or a body stream that ignores the signal.
 * CRL fetching and the reference service's outbound calls both read through it.
 * @module
 */
import { concatBytes } from './bytes.ts'

/** Why a body could not be read: too large, or the connection failed while it was streaming. */
export class BodyReadError extends Error {
  readonly reason: 'too-large' | 'network'

  constructor(reason: 'too-large' | 'network', options: { cause?: unknown } = {}) {
    super(reason === 'too-large' ? 'Body exceeds the size limit' : 'Body read failed', options)
    this.name = 'BodyReadError'
    this.reason = reason
  }
}

/** Options for {@link readBody}. */
export interface ReadBodyOptions {
  /** Largest body accepted, in bytes: counted while streaming; Content-Length is a shortcut. */
  maxBytes: number
  /** The deadline: when it aborts, reading stops and rejects with the signal's reason. */
  signal: AbortSignal
}

function ignore(): void {}

/**
 * `fetchImpl(url, init)`, settled by `init.signal` even when `fetchImpl` ignores it: it rejects
 * with the signal's reason as soon as the signal aborts, and a response that arrives later has
 * its body cancelled, so its connection is not leaked.
 */
export function fetchWithDeadline(
  fetchImpl: typeof fetch,
  url: string,
  init: RequestInit & { signal: AbortSignal }
): Promise<Response> {
  return untilAborted(fetchImpl(url, init), init.signal, (late) => {
    void late.body?.cancel().catch(ignore)
  })
}

/**
 * Reads the whole body, counting bytes as they arrive; cancels the stream on every failure.
 * Rejects with a {@link BodyReadError} (too large, or the connection failed), or with the
 * signal's reason once it aborts.
 */
export async function readBody(
  response: Response,
  options: ReadBodyOptions
): Promise<Uint8Array<ArrayBuffer>> {
  const { maxBytes, signal } = options
  const declared = Number(response.headers.get('content-length'))
  if (response.headers.has('content-length') && Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(ignore)
    throw new BodyReadError('too-large')
  }
  if (response.body === null) return new Uint8Array(0)

  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  let done = false
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>
      try {
        result = await untilAborted(reader.read(), signal, ignore)
      } catch (error) {
        throw signal.aborted ? error : new BodyReadError('network', { cause: error })
      }
      if (result.done) break
      total += result.value.byteLength
      if (total > maxBytes) throw new BodyReadError('too-large')
      chunks.push(result.value)
    }
    done = true
  } finally {
    if (!done) void reader.cancel().catch(ignore)
  }
  return concatBytes(chunks)
}

/**
 * Settles like `promise`, or rejects as soon as `signal` aborts. A value that arrives after the
 * abort goes to `onLate`, so it can be released.
 */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  onLate: (value: T) => void
): Promise<T> {
  if (signal.aborted) {
    promise.then(onLate, ignore)
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      promise.then(onLate, ignore)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        if (signal.aborted) onLate(value)
        else resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      }
    )
  })
}
