/**
 * The service's OpenTelemetry metrics: how many requests were verified and refused (by code), and
 * how long verification took, through the OpenTelemetry API's global meter, which an SDK
 * registered before the service starts (`node --import …register`) receives. The API is loaded
 * by a dynamic import that may fail: without the package, or without an SDK registered (the API
 * then hands out its no-op meter), there are no metrics and the request path records nothing.
 * Web APIs only.
 * @module
 */
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api'

/** The instruments' names, as dashboards and alerts will spell them. */
export const METRIC_NAMES = Object.freeze({
  verified: 'certgate.requests.verified',
  refused: 'certgate.requests.refused',
  duration: 'certgate.verify.duration',
})

/** Where the verify time falls, in seconds: a cached verdict is microseconds, a chain a few ms. */
const DURATION_BUCKETS_S = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
]

/** What the service records; each call is a few map lookups in the SDK. */
export interface ServiceMetrics {
  /** A request whose certificate (or, in accept mode, its absence) passed. */
  verified(event: { durationMs: number; cached: boolean }): void
  /** A refused request; `durationMs` when the certificate check ran (not for the Dapr refusal). */
  refused(event: { code: string; status: number; durationMs?: number }): void
}

/** The OpenTelemetry API module, or what a test passes instead. */
export type OtelApi = Pick<typeof import('@opentelemetry/api'), 'metrics' | 'createNoopMeter'>

/**
 * The global meter named `certgate`, or null when `@opentelemetry/api` is not installed or no SDK
 * is registered (its no-op meter): then the service installs no metric hooks at all.
 */
export async function loadMeter(
  load: () => Promise<OtelApi> = () => import('@opentelemetry/api')
): Promise<Meter | null> {
  let api: OtelApi
  try {
    api = await load()
  } catch {
    return null
  }
  const meter = api.metrics.getMeter('certgate')
  // The API answers every getMeter with this one no-op meter until an SDK registers a provider.
  return meter === api.createNoopMeter() ? null : meter
}

/** The instruments on `meter`. */
export function createServiceMetrics(meter: Meter): ServiceMetrics {
  const verified: Counter = meter.createCounter(METRIC_NAMES.verified, {
    description: 'Requests whose client certificate was verified and admitted',
    unit: '{request}',
  })
  const refused: Counter = meter.createCounter(METRIC_NAMES.refused, {
    description: 'Requests refused by the client certificate check, by error code',
    unit: '{request}',
  })
  const duration: Histogram = meter.createHistogram(METRIC_NAMES.duration, {
    description: 'Time the client certificate check took',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS_S },
  })
  return {
    verified(event) {
      const attributes: Attributes = { 'certgate.cached': event.cached }
      verified.add(1, attributes)
      duration.record(event.durationMs / 1000, { ...attributes, 'certgate.outcome': 'verified' })
    },
    refused(event) {
      const attributes: Attributes = {
        'error.type': event.code,
        'http.response.status_code': event.status,
      }
      refused.add(1, attributes)
      if (event.durationMs === undefined) return
      duration.record(event.durationMs / 1000, { ...attributes, 'certgate.outcome': 'refused' })
    },
  }
}
