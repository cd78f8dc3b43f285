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

/** Compares `nowMs` with the window widened by `toleranceMs` on each side; both ends are inside. */
export function validityStatus(
  window: ValidityWindow,
  nowMs: number,
  toleranceMs: number
): ValidityStatus {
  if (window.notBefore.getTime() - toleranceMs > nowMs) return 'not-yet-valid'
  if (window.notAfter.getTime() + toleranceMs < nowMs) return 'expired'
  return 'valid'
}
