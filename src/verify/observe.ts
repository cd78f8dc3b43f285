/**
 * The observer hooks' side of a verification: what a request records on its way (only when a
 * hook is set, so an unobserved verifier allocates nothing for them), and the call to
 * `onVerified` / `onRefused` once the decision is made, with whatever the hook throws or rejects
 * with contained: a hook observes the decision, it never changes it.
 * @module
 */
import type { CertgateError } from '../errors.ts'
import type { ClientCertificate } from '../x509/certificate.ts'
import type { CompiledOptions } from './options.ts'

/** What an observed request learns on its way to the decision. */
export interface Trace {
  /** `performance.now()` when the verifier was called. */
  readonly start: number
  /** The leaf's SHA-256 once identified (uppercase hex), else null. */
  thumbprint: string | null
  /** The verdict came from the cache. */
  cached: boolean
}

/** A trace for a verifier with hooks; null (nothing recorded, no clock read) without. */
export function startTrace(observed: boolean): Trace | null {
  return observed ? { start: performance.now(), thumbprint: null, cached: false } : null
}

/** The decision as the verifier returns it. */
type Decision = { ok: true; certificate: ClientCertificate | null } | { ok: false; error: CertgateError }

/** Calls the hook for the decision (if set) and returns the decision unchanged. */
export function notify<H, R extends Decision>(
  hooks: Pick<CompiledOptions<H>, 'onVerified' | 'onRefused'>,
  decision: R,
  trace: Trace,
  request: Request,
  handle: H
): R {
  const durationMs = performance.now() - trace.start
  if (decision.ok) {
    if (hooks.onVerified === null) return decision
    const { certificate } = decision
    const thumbprint = certificate === null ? null : certificate.thumbprint
    contain(hooks.onVerified, { certificate, request, thumbprint, cached: trace.cached, durationMs }, handle)
  } else if (hooks.onRefused !== null) {
    contain(hooks.onRefused, { error: decision.error, request, thumbprint: trace.thumbprint, durationMs }, handle)
  }
  return decision
}

/** Runs an observer: a throw, or a rejection of what it returns, is logged once and goes no further. */
function contain<E, H>(hook: (event: E, handle: H) => void, event: E, handle: H): void {
  try {
    const returned: unknown = hook(event, handle)
    if (isThenable(returned)) Promise.resolve(returned).then(undefined, reportHookFailure)
  } catch (error) {
    reportHookFailure(error)
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

function reportHookFailure(error: unknown): void {
  try {
    console.error('certgate: an onVerified/onRefused hook failed; the decision stands', error)
  } catch {
    // A console that throws must not turn a hook's failure into an unhandled rejection.
  }
}
