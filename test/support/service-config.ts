/**
 * A complete service configuration for in-process tests of `createServiceApp`: everything off or
 * minimal (no trust, no reload, no trusted-proxy check), the fields a test cares about given as
 * overrides.
 */
import type { ServiceConfig } from '../../src/service/config.ts'

export function serviceConfig(overrides: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    port: 8000,
    allowedThumbprints: [],
    allowedCommonNames: [],
    directBackendUrl: 'http://127.0.0.1:9',
    daprHttpPort: 3500,
    daprTargetAppId: 'backend',
    daprApiToken: null,
    outboundTimeoutMs: 500,
    clientCertMode: 'require',
    clientCertSource: 'xfcc',
    trust: null,
    trustFiles: { caBundle: null, crls: [] },
    trustReloadSeconds: 0,
    trustedProxies: null,
    refuseDaprInvoked: true,
    ...overrides,
  }
}
