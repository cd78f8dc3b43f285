/**
 * Direct mTLS on Node (`certgate/node`): a certificate source that reads the client certificate,
 * and the chain the client sent, from the TLS socket of an https server run with
 * `requestCert: true`. It never reads a header, so a forged `X-Forwarded-Client-Cert` on such a
 * connection proves nothing. The pipeline only ever sees the DER bytes it hands over.
 * @module
 */
import { type DetailedPeerCertificate, TLSSocket } from 'node:tls'
import { CertgateError } from '../errors.ts'
import type { CertificateSource, ForwardedCertificate, SourceLimits, SourceRead } from '../sources/source.ts'

/**
 * The client certificate from the TLS handshake of a Node https server (`requestCert: true`).
 * The adapters pass the connection (`clientCert` from `certgate/hono` on `certgate/node`'s
 * `serve`, `withClientCert` there); a request that did not arrive over TLS, or whose client sent
 * no certificate, has none (ERR_CERT_MISSING, or null in `accept` mode). A certificate the TLS
 * server did not verify against its `ca` (`rejectUnauthorized: false`) is admitted only when
 * `trust` validates it, else ERR_CERT_UNTRUSTED.
 * @example
 * app.use(clientCert({ source: peerCertificateSource(), allow: { commonNames: ['api-client.contoso.com'] } }))
 * serve(app, { tls: { key, cert, ca, requestCert: true } })
 */
export function peerCertificateSource(): CertificateSource {
  // Reading the chain costs ~250 µs (Node builds an object per certificate, every field), so it
  // is read once per handshake: the handshake's Finished message (~2 µs to read) is new with
  // each, and a TLS 1.2 renegotiation may present another certificate.
  const sessions = new WeakMap<TLSSocket, Session>()
  return {
    name: 'peer-certificate',
    read(_headers: Headers, limits: SourceLimits, connection?: unknown): SourceRead | null {
      const socket = tlsSocketOf(connection)
      if (socket === null) return null
      const finished = socket.getFinished()
      const known = sessions.get(socket)
      let presented: Presented
      if (known !== undefined && finished !== undefined && finished.equals(known.finished)) {
        presented = known
      } else {
        presented = readPresented(socket, limits)
        if (finished !== undefined) sessions.set(socket, { finished, ...presented })
      }
      // A source may serve verifiers with different limits: each checks its own.
      if (presented.chainLength > limits.maxChainLength) throw chainTooLong(limits)
      return presented.read
    },
  }
}

/** What one handshake presented, as the pipeline reads it. */
interface Presented {
  /** The issuers the client sent (and Node added from the server's `ca`). */
  chainLength: number
  /** Null when the client presented no certificate. */
  read: SourceRead | null
}

/** What a handshake presented, and the handshake's Finished message, which names it. */
interface Session extends Presented {
  finished: Uint8Array
}

/**
 * The certificate and chain the client presented in the handshake. Read with
 * `getPeerCertificate(true)` before anything else: on Node 20, a `getPeerX509Certificate()` call
 * first leaves a server's view of the chain empty.
 */
function readPresented(socket: TLSSocket, limits: SourceLimits): Presented {
  const peer = socket.getPeerCertificate(true)
  // No certificate presented: Node answers with an empty object (null once the socket is gone).
  if (peer === null || peer.raw === undefined) return { chainLength: 0, read: null }
  const issuers = issuerChain(peer, limits)
  const forwarded: ForwardedCertificate = {
    leaf: new Uint8Array(peer.raw),
    chain: issuers.map((cert) => new Uint8Array(cert.raw)),
    requiresTrust: !socket.authorized,
  }
  // OpenSSL's SHA-256 of each DER names the bytes exactly: a cheap memo key.
  const names = [peer, ...issuers].map((cert) => cert.fingerprint256).join(',')
  const key = `${socket.authorized ? 'verified' : 'unverified'}:${names}`
  return { chainLength: issuers.length, read: { key, decode: (): ForwardedCertificate => forwarded } }
}

function chainTooLong(limits: SourceLimits): CertgateError {
  return new CertgateError(
    'ERR_CHAIN_TOO_LONG',
    `The client sent a chain of more than ${limits.maxChainLength} certificates.`
  )
}

/**
 * The issuers above the leaf, as Node links them (the chain the client sent, and the root from
 * the server's `ca` when it found one), up to the self-issued one. A self-signed certificate is
 * its own issuer, so the walk stops at any certificate seen before.
 */
function issuerChain(leaf: DetailedPeerCertificate, limits: SourceLimits): DetailedPeerCertificate[] {
  const seen = new Set<string>([leaf.fingerprint256])
  const issuers: DetailedPeerCertificate[] = []
  let next: DetailedPeerCertificate | undefined = leaf.issuerCertificate
  while (next?.raw !== undefined && !seen.has(next.fingerprint256)) {
    if (issuers.length === limits.maxChainLength) throw chainTooLong(limits)
    seen.add(next.fingerprint256)
    issuers.push(next)
    next = next.issuerCertificate
  }
  return issuers
}

/**
 * The TLS socket behind an adapter's connection handle: a TLS socket itself, a Node request
 * (`req.socket`: Express, Fastify's `request.raw`, node:http) or `@hono/node-server`'s bindings
 * (`c.env.incoming.socket`). Null for anything else, a plain-HTTP socket included.
 */
function tlsSocketOf(connection: unknown): TLSSocket | null {
  const socketOf = (value: unknown): unknown =>
    typeof value === 'object' && value !== null && 'socket' in value ? value.socket : undefined
  const incoming =
    typeof connection === 'object' && connection !== null && 'incoming' in connection ? connection.incoming : undefined
  for (const candidate of [connection, socketOf(connection), socketOf(incoming)]) {
    if (candidate instanceof TLSSocket) return candidate
  }
  return null
}
