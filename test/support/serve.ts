/**
 * `certgate/node`'s serve for tests: 127.0.0.1, a free port, no signal handling, resolved once
 * listening; each handle is pushed to the caller's list so an `after` hook can close them all.
 */
import { type FetchApp, type ServeHandle, type ServeOptions, serve } from '../../src/adapters/node.ts'

export async function serveForTest(
  app: FetchApp,
  options: Partial<ServeOptions>,
  handles: ServeHandle[]
): Promise<ServeHandle> {
  let listening: () => void = () => {}
  const ready = new Promise<void>((resolve) => (listening = resolve))
  const handle = serve(app, {
    port: 0,
    hostname: '127.0.0.1',
    signals: [],
    exit: false,
    onListen: () => listening(),
    ...options,
  })
  handles.push(handle)
  await ready
  return handle
}
