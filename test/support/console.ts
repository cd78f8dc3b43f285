/**
 * Captures `console.error` for the length of a test body: the hook tests check that a failing
 * observer hook is reported once and changes nothing else.
 */

/** Runs `body` with console.error captured; resolves to the arguments of each call. */
export async function capturingConsoleError(body: () => Promise<void>): Promise<unknown[][]> {
  const logged: unknown[][] = []
  const original = console.error
  console.error = (...args: unknown[]) => void logged.push(args)
  try {
    await body()
    // Let a rejected hook's promise settle (microtasks, then one macrotask) before looking.
    await new Promise<void>((resolve) => setTimeout(resolve, 20))
  } finally {
    console.error = original
  }
  return logged
}

/** Observer hooks that fail both ways: one throws, the other returns a rejected promise. */
export const FAILING_HOOKS = {
  onVerified: (): void => {
    throw new Error('onVerified threw')
  },
  onRefused: (): Promise<void> => Promise.reject(new Error('onRefused rejected')),
}

/** The messages of the errors the failing hooks were reported with (each call's second argument). */
export function reportedMessages(logged: unknown[][]): string[] {
  return logged.map((args) => (args[1] as Error).message)
}
