/**
 * Tests for the outbound JSON GET against real loopback servers (no mocked fetch): each failure
 * mode of a real socket must map to its code within the deadline, and leave nothing open.
 * @module
 */

import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Buffer } from 'node:buffer'
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { isCertgateError } from '../../src/errors.ts'
import type { CertgateError, CertgateErrorCode } from '../../src/errors.ts'
import { daprInvokeUrl, getJson } from '../../src/service/outbound.ts'

const TIMEOUT_MS = 300
const SLACK_MS = 1000
const BOUNDED = { timeout: 5000 }

interface TestServer {
  url: string
  port: number
  close: () => Promise<void>
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

const open: TestServer[] = []

/** A loopback HTTP server; `close` destroys its sockets so never-ending handlers end too. */
async function serve(handler: Handler, cleanups: Array<() => void> = []): Promise<TestServer> {
  const sockets = new Set<Socket>()
  const server = createServer(handler)
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | null = null
  const testServer: TestServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    close: (): Promise<void> => {
      closed ??= new Promise<void>((resolve) => {
        for (const cleanup of cleanups) cleanup()
        server.closeAllConnections?.()
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
      return closed
    },
  }
  open.push(testServer)
  return testServer
}

/** The CertgateError `promise` rejects with, and how long that took. */
async function rejection(promise: Promise<unknown>): Promise<{ error: CertgateError; ms: number }> {
  const started = performance.now()
  try {
    await promise
  } catch (error) {
    assert.ok(isCertgateError(error), `expected a CertgateError, got ${String(error)}`)
    return { error, ms: performance.now() - started }
  }
  assert.fail('expected a rejection')
}

function assertCode(error: CertgateError, code: CertgateErrorCode, status: number): void {
  assert.equal(error.code, code, `${error.code}: ${error.message} (cause: ${String(error.cause)})`)
  assert.equal(error.status, status)
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

after(async () => {
  await Promise.all(open.map((server) => server.close()))
})

describe('getJson', () => {
  it('resolves the parsed JSON of a 200 and sends the given headers', BOUNDED, async () => {
    const seen: Array<Record<string, unknown>> = []
    const server = await serve((req, res) => {
      const { accept, 'dapr-api-token': token } = req.headers
      seen.push({ accept, token, method: req.method })
      json(res, 200, { ok: true, items: [1, 2, 3], name: 'ünïcødé' })
    })
    try {
      const body = await getJson(`${server.url}/items`, {
        timeoutMs: TIMEOUT_MS,
        headers: { 'dapr-api-token': 'tok' },
      })
      assert.deepEqual(body, { ok: true, items: [1, 2, 3], name: 'ünïcødé' })
      assert.deepEqual(seen, [{ accept: 'application/json', token: 'tok', method: 'GET' }])
    } finally {
      await server.close()
    }
  })

  it('uses the fetch given in the options', BOUNDED, async () => {
    const server = await serve((_req, res) => json(res, 200, [true]))
    let calls = 0
    const counting = ((input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      calls++
      return fetch(input, init)
    }) as typeof fetch
    try {
      const body = await getJson(server.url, { timeoutMs: TIMEOUT_MS, fetch: counting })
      assert.deepEqual(body, [true])
      assert.equal(calls, 1)
    } finally {
      await server.close()
    }
  })

  it('maps connection refused to ERR_UPSTREAM_UNREACHABLE, URL not leaked', BOUNDED, async () => {
    const server = await serve(() => {})
    await server.close()
    const url = `http://127.0.0.1:${server.port}/secret?token=abc`
    const { error, ms } = await rejection(getJson(url, { timeoutMs: TIMEOUT_MS }))
    assertCode(error, 'ERR_UPSTREAM_UNREACHABLE', 502)
    assert.deepEqual(error.extensions, {})
    assert.ok(!/127\.0\.0\.1|token/.test(error.message), error.message)
    assert.ok(ms < TIMEOUT_MS + SLACK_MS)
  })

  it('maps a server that never answers to ERR_UPSTREAM_TIMEOUT in time', BOUNDED, async () => {
    const server = await serve(() => {})
    try {
      const { error, ms } = await rejection(getJson(server.url, { timeoutMs: TIMEOUT_MS }))
      assertCode(error, 'ERR_UPSTREAM_TIMEOUT', 504)
      assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + SLACK_MS, `took ${ms} ms`)
    } finally {
      await server.close()
    }
  })

  it('maps headers then a forever-trickling body to ERR_UPSTREAM_TIMEOUT', BOUNDED, async () => {
    const timers: Array<ReturnType<typeof setInterval>> = []
    const server = await serve(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('[')
        timers.push(setInterval(() => res.write(' '), 20))
      },
      [() => timers.forEach(clearInterval)]
    )
    try {
      const { error, ms } = await rejection(getJson(server.url, { timeoutMs: TIMEOUT_MS }))
      assertCode(error, 'ERR_UPSTREAM_TIMEOUT', 504)
      assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + SLACK_MS, `took ${ms} ms`)
    } finally {
      await server.close()
    }
  })

  it('holds the deadline even when fetch ignores the signal', BOUNDED, async () => {
    const timers: Array<ReturnType<typeof setInterval>> = []
    let closedByClient = false
    const server = await serve(
      (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('[')
        timers.push(setInterval(() => res.write(' '), 20))
        req.socket.on('close', () => (closedByClient = true))
      },
      [() => timers.forEach(clearInterval)]
    )
    const deaf = ((input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const { signal: _ignored, ...rest } = init ?? {}
      return fetch(input, rest)
    }) as typeof fetch
    try {
      const options = { timeoutMs: TIMEOUT_MS, fetch: deaf }
      const { error, ms } = await rejection(getJson(server.url, options))
      assertCode(error, 'ERR_UPSTREAM_TIMEOUT', 504)
      assert.ok(ms < TIMEOUT_MS + SLACK_MS, `took ${ms} ms`)
      // The body stream was cancelled, which closes the connection instead of leaking it.
      for (let i = 0; i < 50 && !closedByClient; i++) await new Promise((r) => setTimeout(r, 20))
      assert.equal(closedByClient, true)
    } finally {
      await server.close()
    }
  })

  it('stops an endless body at the size cap', BOUNDED, async () => {
    let stop = false
    const server = await serve(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        const chunk = Buffer.alloc(16 * 1024, 0x20)
        const pump = (): void => {
          while (!stop && !res.destroyed && res.write(chunk)) {
            // keep writing until the socket buffer is full
          }
          if (!stop && !res.destroyed) res.once('drain', pump)
        }
        pump()
      },
      [() => (stop = true)]
    )
    try {
      const options = { timeoutMs: 2000, maxBodyBytes: 64 * 1024 }
      const { error, ms } = await rejection(getJson(server.url, options))
      assertCode(error, 'ERR_UPSTREAM_BODY', 502)
      assert.match(error.message, /65536 bytes/)
      assert.ok(ms < 2000, `took ${ms} ms`)
    } finally {
      await server.close()
    }
  })

  it('refuses a body over the cap by its Content-Length and by counting', BOUNDED, async () => {
    const body = JSON.stringify({ data: 'x'.repeat(100) })
    const server = await serve((req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(body)
      } else {
        json(res, 200, { data: 'x'.repeat(100) })
      }
    })
    try {
      const size = new TextEncoder().encode(body).byteLength
      for (const path of ['/declared', '/chunked']) {
        const tooSmall = { timeoutMs: TIMEOUT_MS, maxBodyBytes: size - 1 }
        const { error } = await rejection(getJson(`${server.url}${path}`, tooSmall))
        assertCode(error, 'ERR_UPSTREAM_BODY', 502)
        const exact = { timeoutMs: TIMEOUT_MS, maxBodyBytes: size }
        assert.deepEqual(await getJson(`${server.url}${path}`, exact), { data: 'x'.repeat(100) })
      }
    } finally {
      await server.close()
    }
  })

  it('maps a connection reset after the headers to a 502', BOUNDED, async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"partial": ')
      setTimeout(() => req.socket.destroy(), 20)
    })
    try {
      const { error, ms } = await rejection(getJson(server.url, { timeoutMs: 2000 }))
      assertCode(error, 'ERR_UPSTREAM_UNREACHABLE', 502)
      assert.ok(ms < 2000, `took ${ms} ms`)
    } finally {
      await server.close()
    }
  })

  it('maps a body that is not JSON to ERR_UPSTREAM_BODY', BOUNDED, async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      if (req.url === '/utf8') res.end(Buffer.from([0x22, 0xff, 0xfe, 0x22]))
      else if (req.url === '/empty') res.end()
      else res.end('{"almost": json')
    })
    try {
      for (const path of ['/text', '/utf8', '/empty']) {
        const options = { timeoutMs: TIMEOUT_MS }
        const { error } = await rejection(getJson(`${server.url}${path}`, options))
        assertCode(error, 'ERR_UPSTREAM_BODY', 502)
        assert.deepEqual(error.extensions, {})
      }
    } finally {
      await server.close()
    }
  })

  it("maps Dapr's 503 error JSON to ERR_UPSTREAM_STATUS + upstreamError", BOUNDED, async () => {
    const message = 'failed to invoke, id: backend, err: connection refused'
    const server = await serve((_req, res) => {
      json(res, 503, { errorCode: 'ERR_DIRECT_INVOKE', message })
    })
    try {
      const { error } = await rejection(getJson(server.url, { timeoutMs: TIMEOUT_MS }))
      assertCode(error, 'ERR_UPSTREAM_STATUS', 502)
      assert.deepEqual(error.extensions, {
        upstreamStatus: 503,
        upstreamError: { errorCode: 'ERR_DIRECT_INVOKE', message },
      })
      assert.equal(error.message, 'The upstream service answered with status 503')
      const problem = error.toProblem()
      assert.equal(problem.status, 502)
      assert.equal(problem.upstreamStatus, 503)
    } finally {
      await server.close()
    }
  })

  it("truncates Dapr's message to 200 characters", BOUNDED, async () => {
    const server = await serve((_req, res) =>
      json(res, 500, { errorCode: 'ERR_X', message: 'm'.repeat(5000), extra: 1 })
    )
    try {
      const { error } = await rejection(getJson(server.url, { timeoutMs: TIMEOUT_MS }))
      assertCode(error, 'ERR_UPSTREAM_STATUS', 502)
      const upstreamError = error.extensions.upstreamError as { errorCode: string; message: string }
      assert.deepEqual(Object.keys(upstreamError), ['errorCode', 'message'])
      assert.equal(upstreamError.message.length, 200)
      assert.equal(upstreamError.message, `${'m'.repeat(199)}…`)
    } finally {
      await server.close()
    }
  })

  it('maps a 404 plain text to ERR_UPSTREAM_STATUS with only upstreamStatus', BOUNDED, async () => {
    const server = await serve((req, res) => {
      if (req.url === '/not-dapr') return json(res, 400, { errorCode: 42, message: 'x' })
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('Not Found')
    })
    try {
      const { error } = await rejection(getJson(server.url, { timeoutMs: TIMEOUT_MS }))
      assertCode(error, 'ERR_UPSTREAM_STATUS', 502)
      assert.deepEqual(error.extensions, { upstreamStatus: 404 })
      const other = await rejection(getJson(`${server.url}/not-dapr`, { timeoutMs: TIMEOUT_MS }))
      assert.deepEqual(other.error.extensions, { upstreamStatus: 400 })
    } finally {
      await server.close()
    }
  })

  it('does not follow a redirect', BOUNDED, async () => {
    let followed = false
    const server = await serve((req, res) => {
      if (req.url === '/elsewhere') {
        followed = true
        return json(res, 200, {})
      }
      res.writeHead(302, { location: '/elsewhere' })
      res.end()
    })
    try {
      const { error } = await rejection(getJson(server.url, { timeoutMs: TIMEOUT_MS }))
      assertCode(error, 'ERR_UPSTREAM_STATUS', 502)
      assert.deepEqual(error.extensions, { upstreamStatus: 302 })
      assert.equal(followed, false)
    } finally {
      await server.close()
    }
  })

  it('bounds an error status whose body never ends by the same deadline', BOUNDED, async () => {
    const timers: Array<ReturnType<typeof setInterval>> = []
    const server = await serve(
      (_req, res) => {
        res.writeHead(503, { 'content-type': 'application/json' })
        timers.push(setInterval(() => res.write(' '), 20))
      },
      [() => timers.forEach(clearInterval)]
    )
    try {
      const { error, ms } = await rejection(getJson(server.url, { timeoutMs: TIMEOUT_MS }))
      assertCode(error, 'ERR_UPSTREAM_STATUS', 502)
      assert.deepEqual(error.extensions, { upstreamStatus: 503 })
      assert.ok(ms < TIMEOUT_MS + SLACK_MS, `took ${ms} ms`)
    } finally {
      await server.close()
    }
  })

  it('refuses a nonsensical timeout as a programming error', async () => {
    await assert.rejects(getJson('http://127.0.0.1:1', { timeoutMs: 0 }), RangeError)
    await assert.rejects(getJson('http://127.0.0.1:1', { timeoutMs: Number.NaN }), RangeError)
  })
})

describe('daprInvokeUrl', () => {
  it('builds the sidecar invoke URL', () => {
    assert.equal(
      daprInvokeUrl(3500, 'backend', 'cert-info'),
      'http://127.0.0.1:3500/v1.0/invoke/backend/method/cert-info'
    )
  })

  it('encodes each path segment and keeps the slashes between them', () => {
    assert.equal(
      daprInvokeUrl(3501, 'my_app.v1', '/api/items/a b?c#d'),
      'http://127.0.0.1:3501/v1.0/invoke/my_app.v1/method/api/items/a%20b%3Fc%23d'
    )
    const url = daprInvokeUrl(3500, 'a/b', 'x')
    assert.equal(url, 'http://127.0.0.1:3500/v1.0/invoke/a%2Fb/method/x')
  })

  it('refuses segments that would escape /method/ and bad ports', () => {
    for (const method of ['..', '../../state/store', 'a/./b', 'a/%2e%2E/b', '', 'a//b']) {
      assert.throws(() => daprInvokeUrl(3500, 'backend', method), RangeError, method)
    }
    assert.throws(() => daprInvokeUrl(3500, '..', 'x'), RangeError)
    for (const port of [0, 65536, 1.5, Number.NaN]) {
      assert.throws(() => daprInvokeUrl(port, 'backend', 'x'), RangeError)
    }
  })
})
