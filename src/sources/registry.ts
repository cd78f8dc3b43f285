/**
 * The sources by name, for a setting such as `CLIENT_CERT_SOURCE`.
 * @module
 */
import { albSource } from './alb.ts'
import { appServiceSource } from './app-service.ts'
import { cloudflareSource } from './cloudflare.ts'
import { nginxSource } from './nginx.ts'
import { rfc9440Source } from './rfc9440.ts'
import type { CertificateSource } from './source.ts'
import { traefikSource } from './traefik.ts'
import { xfccSource } from './xfcc.ts'

/** The names {@link sourceByName} knows, e.g. for a `CLIENT_CERT_SOURCE` setting. */
export const SOURCE_NAMES = [
  'xfcc',
  'traefik',
  'nginx',
  'alb',
  'alb-passthrough',
  'app-service',
  'cloudflare',
  'rfc9440',
] as const

/** One of {@link SOURCE_NAMES}. */
export type SourceName = (typeof SOURCE_NAMES)[number]

const FACTORIES: Readonly<Record<SourceName, () => CertificateSource>> = {
  xfcc: () => xfccSource(),
  traefik: traefikSource,
  nginx: () => nginxSource(),
  alb: () => albSource(),
  'alb-passthrough': () => albSource({ mode: 'passthrough' }),
  'app-service': appServiceSource,
  cloudflare: () => cloudflareSource(),
  rfc9440: () => rfc9440Source(),
}

/**
 * A source by the name a setting such as `CLIENT_CERT_SOURCE` holds: one of
 * {@link SOURCE_NAMES}, with default options. An unknown name throws a TypeError. (Application
 * Gateway and custom sources need options, so they have no name here.)
 */
export function sourceByName(name: string): CertificateSource {
  if (!(SOURCE_NAMES as readonly string[]).includes(name)) {
    throw new TypeError(
      `${JSON.stringify(name)} is not a certificate source name; use one of ${SOURCE_NAMES.join(', ')}.`
    )
  }
  return FACTORIES[name as SourceName]()
}
