/**
 * Where the client certificate comes from: one {@link CertificateSource} per way a
 * TLS-terminating proxy forwards it. Envoy's `X-Forwarded-Client-Cert` (the default, as Azure
 * Container Apps sends it), Traefik, nginx and ingress-nginx, AWS ALB, Azure App Service, Azure
 * Application Gateway, Cloudflare, RFC 9440, or your own function. Header names and encodings
 * follow each proxy's source or documentation.
 * @module
 */
export { type AlbSourceOptions, albSource } from './alb.ts'
export { type AppGatewaySourceOptions, appGatewaySource } from './app-gateway.ts'
export { appServiceSource } from './app-service.ts'
export { cloudflareSource } from './cloudflare.ts'
export { type CustomSourceResult, customSource } from './custom.ts'
export { type NginxSourceOptions, nginxSource } from './nginx.ts'
export { SOURCE_NAMES, type SourceName, sourceByName } from './registry.ts'
export { rfc9440Source } from './rfc9440.ts'
export type { CertificateSource, ForwardedCertificate, SourceLimits, SourceRead } from './source.ts'
export { traefikSource } from './traefik.ts'
export type { VerdictHeaderOption } from './verdict.ts'
export { chooseXfccElement, type XfccElementChoice, type XfccSourceOptions, xfccSource } from './xfcc.ts'
