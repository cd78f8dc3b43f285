/**
 * Test kit (`certgate/testing`): a throwaway PKI (root CA → intermediate CA → client leaves)
 * and `X-Forwarded-Client-Cert` headers shaped exactly as Envoy, or the Azure Container Apps
 * ingress, would send them for those certificates. Web APIs only, so tests run unchanged on
 * Node, Bun and Deno. Never use these keys or certificates outside tests.
 * @module
 */
export { xfccHeader, type XfccHeaderOptions } from './headers.ts'
export {
  createTestCertificate,
  createTestPki,
  type TestCertificate,
  type TestCertificateOptions,
  type TestKeyAlgorithm,
  type TestPki,
} from './pki.ts'
