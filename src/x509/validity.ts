/**
 * Where a moment falls against a certificate's validity window, widened on both sides by a
 * clock-skew tolerance: the one comparison behind the leaf's check and each issuing CA's.
 * @module
 */

/** A certificate's validity window. */
export interface ValidityWindow {
  readonly notBefore: Date
  readonly notAfter: Date
}

/** Where `nowMs` falls: inside the window, before it, or after it. */
export type ValidityStatus = 'valid' | 'not-yet-valid' | 'expired'

/**
 * Compares `nowMs` with the window widened by `toleranceMs` on each side; both ends are inside.
 * Certificates encode whole seconds, so the moment is compared as a whole second too (its
 * milliseconds dropped): the last second of a window is valid for all of that second.
 */
export function validityStatus(
  window: ValidityWindow,
  nowMs: number,
  toleranceMs: number
): ValidityStatus {
  const now = Math.floor(nowMs / 1000) * 1000
  if (window.notBefore.getTime() - toleranceMs > now) return 'not-yet-valid'
  if (window.notAfter.getTime() + toleranceMs < now) return 'expired'
  return 'valid'
}
