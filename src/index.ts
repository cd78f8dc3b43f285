/**
 * certgate: authenticate HTTP requests by the client certificate a TLS-terminating proxy
 * forwards (Envoy's X-Forwarded-Client-Cert first). Web APIs only: Node, Bun, Deno, edge.
 * @module
 */
export { ClientCertificate, type ClientCertificateJson, readClientCertificate } from './x509/certificate.ts'
export {
  CertgateError,
  type CertgateErrorCode,
  isCertgateError,
  type ProblemDetails,
  problemResponse,
  problemType,
} from './errors.ts'
export { type ClientCertHandler, withClientCert, type WithClientCertOptions } from './adapters/fetch.ts'
export { decodeCertificates, encodePem } from './x509/pem.ts'
export { BodyReadError, fetchWithDeadline, readBody, type ReadBodyOptions } from './body.ts'
export { type AllowList, normaliseThumbprint } from './policy.ts'
export {
  type CacheOptions,
  type ClientCertMode,
  type ClientCertOptions,
  type ClientCertVerifier,
  createClientCertVerifier,
  type RefusedEvent,
  type VerifiedEvent,
  type VerifyContext,
  type VerifyResult,
  verifyClientCert,
} from './verify.ts'
export { createProxyCheck, type ProxyCheck, type ProxyTrustOptions } from './proxy/check.ts'
export {
  albSource,
  appGatewaySource,
  appServiceSource,
  type CertificateSource,
  chooseXfccElement,
  cloudflareSource,
  customSource,
  type ForwardedCertificate,
  nginxSource,
  rfc9440Source,
  SOURCE_NAMES,
  type SourceName,
  sourceByName,
  type SourceRead,
  traefikSource,
  xfccSource,
  type XfccElementChoice,
} from './sources/index.ts'
export { type CaBundle, readCaBundle } from './trust/ca-bundle.ts'
export {
  createTrustVerifier,
  type TrustMaterial,
  type TrustOptions,
  type TrustVerdict,
  type TrustVerifier,
} from './trust/verifier.ts'
export { trustFileContents } from './trust/trust-files.ts'
export { type TrustFilesWatcher, watchTrustFiles, type WatchTrustFilesOptions } from './trust/watch.ts'
export { decodeCrls } from './x509/crl.ts'
export type { CertificateFields } from './x509/fields.ts'
export { encodeXfccPem, formatXfcc } from './xfcc/format.ts'
export { parseXfcc, type XfccElement } from './xfcc/parse.ts'
