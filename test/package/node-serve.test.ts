/**
 * `certgate/node`'s `serve` called as the README shows it, `serve({ fetch: handler })`: no
 * options, the port from `PORT` or 8000, a bad `PORT` refused before listening.
 * @module
 */
import { afterEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { serve, type ServeHandle } from '../../src/adapters/node.ts'
import { nodeOnly } from '../support/package.ts'

const skip = nodeOnly('certgate/node is the Node adapter')
const BOUNDED = { timeout: 10_000 }

const app = { fetch: (): Response => new Response('served') }

/** Sets PORT for one call, whatever it was before. */
function withPort<T>(value: string | undefined, run: () => T): T {
  const before = process.env.PORT
  if (value === undefined) delete process.env.PORT
  else process.env.PORT = value
  try {
    return run()
  } finally {
    if (before === undefined) delete process.env.PORT
    else process.env.PORT = before
  }
}

function listening(handle: ServeHandle): Promise<number> {
  return new Promise((resolve, reject) => {
    if (handle.address !== null) return resolve(handle.address.port)
    handle.server.once('listening', () => resolve(handle.address!.port))
    handle.server.once('error', reject)
  })
}

/** Whether nothing listens on the port now (on every interface, as serve binds by default). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, () => probe.close(() => resolve(true)))
  })
}

describe('serve({ fetch }) without options', { skip }, () => {
  const handles: ServeHandle[] = []
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((handle) => handle.close()))
  })

  it('listens on PORT and answers', BOUNDED, async () => {
    const handle = withPort('0', () => serve(app))
    handles.push(handle)
    const port = await listening(handle)
    assert.ok(port > 0)
    const res = await fetch(`http://127.0.0.1:${port}/`)
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'served')
  })

  it('listens on 8000 when PORT is not set', BOUNDED, async (t) => {
    if (!(await portIsFree(8000))) return t.skip('port 8000 is in use here')
    const handle = withPort(undefined, () => serve(app))
    handles.push(handle)
    assert.equal(await listening(handle), 8000)
  })

  it('refuses a PORT that is not a port, before listening', () => {
    for (const value of ['http', '70000', '-1', '80.5']) {
      assert.throws(() => withPort(value, () => serve(app)), {
        name: 'RangeError',
        message: 'PORT must be an integer from 0 to 65535.',
      })
    }
  })

  it('an explicit port wins over PORT', BOUNDED, async () => {
    const handle = withPort('not-a-port', () => serve(app, { port: 0, hostname: '127.0.0.1' }))
    handles.push(handle)
    assert.ok((await listening(handle)) > 0)
  })
})
