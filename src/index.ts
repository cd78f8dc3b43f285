/**
 * certgate: authenticate HTTP requests by the client certificate a TLS-terminating proxy
 * forwards (Envoy's X-Forwarded-Client-Cert first). Web APIs only: Node, Bun, Deno, edge.
 * @module
 */
export { ClientCertificate, type ClientCertificateJson, readClientCertificate } from './certificate.ts'
export {
  CertgateError,
  type CertgateErrorCode,
  isCertgateError,
  type ProblemDetails,
  problemResponse,
  problemType,
} from './errors.ts'
export { type ClientCertHandler, withClientCert, type WithClientCertOptions } from './fetch.ts'
export { decodeCertificates, encodePem } from './pem.ts'
export { type AllowList, normaliseThumbprint } from './policy.ts'
export {
  type CacheOptions,
  type ClientCertMode,
  type ClientCertOptions,
  type ClientCertVerifier,
  createClientCertVerifier,
  type VerifyResult,
  verifyClientCert,
  type XfccElementChoice,
} from './verify.ts'
export { createTrustVerifier, type TrustOptions, type TrustVerdict, type TrustVerifier } from './trust.ts'
export type { CertificateFields } from './x509-fields.ts'
export { encodeXfccPem, formatXfcc, parseXfcc, type XfccElement } from './xfcc.ts'
