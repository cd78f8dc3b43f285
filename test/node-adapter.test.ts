// certgate/node against slow and greedy clients, on 127.0.0.1 with short configured timeouts:
// a socket trickling header bytes, a refused POST whose body keeps trickling, an idle keep-alive
// connection, and one connection more than the cap. Every wait is bounded; every server and
// socket a test opens, it closes.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { Hono } from 'hono'
import { clientCert } from '../src/adapters/hono.ts'
import { type ServeHandle, type ServeOptions, serve } from '../src/adapters/node.ts'
import { serveForTest } from './support/serve.ts'

// The limits are node:http's (headersTimeout, requestTimeout, keepAliveTimeout, maxConnections);
// Bun and Deno reimplement node:http without them, and serve their apps with Bun.serve and
// Deno.serve, not with certgate/node.
const RUNTIME = 'Deno' in globalThis ? 'deno' : 'Bun' in globalThis ? 'bun' : 'node'
const skip = RUNTIME === 'node' ? false : `node:http's connection limits are Node's own (running on ${RUNTIME})`

function app(): Hono {
  const hono = new Hono()
  hono.get('/health', (c) => c.json({ status: 'ok' }))
  hono.use('/api/*', clientCert({ allow: { commonNames: ['api-client.contoso.com'] } }))
  hono.post('/api/upload', async (c) => c.json({ bytes: (await c.req.arrayBuffer()).byteLength }))
  return hono
}

const handles: ServeHandle[] = []
const sockets: Socket[] = []
after(async () => {
  for (const socket of sockets) socket.destroy()
  await Promise.all(handles.map((handle) => handle.close()))
})

/** Serves the app on 127.0.0.1, a free port, without signal handling; resolves once listening. */
function start(options: Partial<ServeOptions>): Promise<ServeHandle> {
  return serveForTest(app(), options, handles)
}

/** A raw client socket, and everything it has received so far. */
interface Raw {
  socket: Socket
  received: () => string
  /** Resolves with ms since `since` once the server has closed the socket; rejects after `boundMs`. */
  closed: (since: number, boundMs: number) => Promise<number>
}

async function open(handle: ServeHandle): Promise<Raw> {
  const socket = connect(handle.address!.port, '127.0.0.1')
  sockets.push(socket)
  let text = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => (text += chunk))
  // A reset after the server's close is expected when the client is still writing.
  socket.on('error', () => {})
  const gone = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  return {
    socket,
    received: () => text,
    closed: (since, boundMs) =>
      Promise.race([
        gone.then((at) => at - since),
        new Promise<number>((_, reject) => {
          const timer = setTimeout(() => reject(new Error(`still open after ${boundMs} ms; received ${JSON.stringify(text.slice(0, 200))}`)), boundMs)
          timer.unref()
        }),
      ]),
  }
}

/** A response's head and its body, the body decoded when it is chunked. */
function splitResponse(text: string): [head: string, body: string] {
  const at = text.indexOf('\r\n\r\n')
  const head = text.slice(0, at)
  let rest = text.slice(at + 4)
  if (!/\r\ntransfer-encoding: chunked\r?$/im.test(head)) return [head, rest]
  let body = ''
  for (;;) {
    const eol = rest.indexOf('\r\n')
    const size = parseInt(rest.slice(0, eol), 16)
    if (!(size > 0)) return [head, body]
    body += rest.slice(eol + 2, eol + 2 + size)
    rest = rest.slice(eol + 2 + size + 2)
  }
}

/**
 * Serves with `options`, sends `head`, then `chunk` every 50 ms until the server closes the
 * socket (3 s at most): what came back, and after how long the socket was closed.
 */
async function trickled(options: Partial<ServeOptions>, head: string, chunk: string): Promise<{ received: string; afterMs: number }> {
  const raw = await open(await start(options))
  const since = performance.now()
  raw.socket.write(head)
  const timer = setInterval(() => {
    if (!raw.socket.destroyed && !raw.socket.writableEnded) raw.socket.write(chunk)
  }, 50)
  try {
    return { afterMs: await raw.closed(since, 3000), received: raw.received() }
  } finally {
    clearInterval(timer)
  }
}

describe('certgate/node serve: slow and greedy clients', { skip }, () => {
  it('a client trickling header lines is answered 408 and cut within headersTimeoutMs', async () => {
    const { received, afterMs } = await trickled(
      { headersTimeoutMs: 300, requestTimeoutMs: 5000 },
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n',
      'X-Slow: a\r\n'
    )
    assert.match(received, /^HTTP\/1\.1 408 /)
    assert.ok(afterMs >= 250 && afterMs < 2000, `closed after ${afterMs.toFixed(0)} ms`)
  })

  it('a refused POST whose body keeps trickling gets its 403 ERR_CERT_MISSING with Connection: close, and is cut', async () => {
    const { received, afterMs } = await trickled(
      { headersTimeoutMs: 5000, requestTimeoutMs: 10_000 },
      'POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n',
      'x'
    )
    const [head, body] = splitResponse(received)
    assert.match(head, /^HTTP\/1\.1 403 /)
    assert.match(head, /\r\nconnection: close\r\n/i)
    assert.equal((JSON.parse(body) as { code: string }).code, 'ERR_CERT_MISSING')
    // Closed once the 403 is sent, long before requestTimeoutMs.
    assert.ok(afterMs < 2000, `closed after ${afterMs.toFixed(0)} ms`)
  })

  it('a refused GET without a body keeps its keep-alive connection (403, then 200 on the same socket)', async () => {
    const handle = await start({})
    const raw = await open(handle)
    raw.socket.write('GET /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    while (!raw.received().includes('ERR_CERT_MISSING')) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.match(raw.received(), /^HTTP\/1\.1 403 [^]*\r\nconnection: keep-alive\r\n/i)
    raw.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
    await raw.closed(performance.now(), 3000)
    assert.match(raw.received(), /\r\n\r\n[^]*HTTP\/1\.1 200 /)
  })

  it('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
    const handle = await start({ keepAliveTimeoutMs: 200 })
    const raw = await open(handle)
    raw.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    while (!raw.received().includes('{"status":"ok"}')) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.match(raw.received(), /^HTTP\/1\.1 200 /)
    const after = await raw.closed(performance.now(), 3000)
    // Node keeps a keep-alive socket 1 s past the advertised timeout, against races with clients.
    assert.ok(after < 2000, `closed after ${after.toFixed(0)} ms`)
  })

  it('past maxConnections the extra connection is closed unanswered, the others still served (200)', async () => {
    const handle = await start({ maxConnections: 2 })
    const first = await open(handle)
    const second = await open(handle)
    const extra = await open(handle)
    const after = await extra.closed(performance.now(), 3000)
    assert.equal(extra.received(), '')
    assert.ok(after < 2000, `closed after ${after.toFixed(0)} ms`)
    for (const raw of [first, second]) {
      raw.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
      await raw.closed(performance.now(), 3000)
      assert.match(raw.received(), /^HTTP\/1\.1 200 /)
    }
  })

  it('refuses bad limits at startup with a RangeError naming the option', () => {
    for (const [name, value] of [
      ['headersTimeoutMs', 0],
      ['requestTimeoutMs', -1],
      ['keepAliveTimeoutMs', Number.NaN],
      ['maxConnections', 1.5],
    ] as const) {
      assert.throws(() => serve(app(), { port: 0, signals: [], [name]: value }), (error: unknown) => {
        return error instanceof RangeError && error.message.startsWith(`${name} `)
      })
    }
    assert.throws(
      () => serve(app(), { port: 0, signals: [], headersTimeoutMs: 2000, requestTimeoutMs: 1000 }),
      /headersTimeoutMs must not exceed requestTimeoutMs/
    )
  })
})
