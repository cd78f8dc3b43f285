/**
 * The second half of `npm run demo`: the service's two outbound paths side by side. It times
 * `GET /call-backend/dapr` (through the Dapr stand-in) and `GET /call-backend/direct` (plain HTTP
 * to the backend), interleaved, and prints the median of each; then it breaks the backend and the
 * sidecar in turn and shows what each path answers, with its status and code.
 * @module
 */
import type { Loopback } from '../test/support/loopback.ts'

/** What a path answered: the status and the problem code, if any. */
interface Answer {
  status: number | null
  code?: string
  /** For an ERR_UPSTREAM_STATUS: what the sidecar or backend said, e.g. `500 ERR_DIRECT_INVOKE`. */
  upstream?: string
  error?: string
}

/** The servers the comparison breaks, and how to bring the backend back. */
export interface PathRig {
  /** The service's base URL. */
  service: string
  /** The allowed client's XFCC header. */
  xfcc: string
  /** The request timeout of the demo's own calls. */
  requestTimeoutMs: number
  setBackendHanging: (hanging: boolean) => void
  backend: () => Loopback
  restartBackend: () => Promise<void>
  sidecar: Loopback
}

/** One failure and what each path must answer to it. */
interface Failure {
  what: string
  /** Breaks something; the next failure's `prepare` may mend it. */
  prepare: (rig: PathRig) => Promise<void>
  dapr: Expected
  direct: Expected
}

interface Expected {
  status: number
  code?: string
}

const PATHS = ['dapr', 'direct'] as const
type Path = (typeof PATHS)[number]

// In order: the backend comes back after "down", and the sidecar stays down, so it goes last.
const FAILURES: readonly Failure[] = [
  {
    what: 'backend hanging',
    prepare: async (rig) => rig.setBackendHanging(true),
    dapr: { status: 504, code: 'ERR_UPSTREAM_TIMEOUT' },
    direct: { status: 504, code: 'ERR_UPSTREAM_TIMEOUT' },
  },
  {
    what: 'backend down',
    prepare: async (rig) => {
      rig.setBackendHanging(false)
      await rig.backend().close()
    },
    // daprd answers 500 ERR_DIRECT_INVOKE when the app cannot be reached.
    dapr: { status: 502, code: 'ERR_UPSTREAM_STATUS' },
    direct: { status: 502, code: 'ERR_UPSTREAM_UNREACHABLE' },
  },
  {
    what: 'sidecar down',
    prepare: async (rig) => {
      await rig.restartBackend()
      await rig.sidecar.close()
    },
    dapr: { status: 502, code: 'ERR_UPSTREAM_UNREACHABLE' },
    direct: { status: 200 },
  },
]

/** The counts for the demo's summary line. */
export interface PathsResult {
  checks: number
  failed: number
}

/**
 * Times both paths (`calls` each), prints the medians, then each failure's answers side by side.
 * Returns how many answers were checked and how many were not as expected.
 */
export async function comparePaths(rig: PathRig, calls: number): Promise<PathsResult> {
  const lines: string[][] = [['', 'dapr (Dapr stand-in)', 'direct (HTTP to the backend)']]
  const timings = await timePaths(rig, calls)
  let failed = timings.failed
  lines.push([
    `median of ${calls}`,
    ...PATHS.map((path) => {
      const mark = timings.failedBy[path] === 0 ? '✓' : `✗ ${timings.failedBy[path]} not 200`
      return `${median(timings.ms[path]).toFixed(2)} ms, all 200 ${mark}`
    }),
  ])
  for (const failure of FAILURES) {
    await failure.prepare(rig)
    const answers = await Promise.all(PATHS.map((path) => call(rig, path)))
    const judged = PATHS.map((path, i) => judge(answers[i]!, failure[path]))
    failed += judged.filter((cell) => !cell.ok).length
    lines.push([failure.what, ...judged.map((cell) => cell.text)])
  }

  console.log('\nDapr or direct: GET /call-backend/dapr and /call-backend/direct, allowed cert\n')
  const widths = [0, 1].map((column) => Math.max(...lines.map((line) => line[column]!.length)))
  for (const [what, dapr, direct] of lines) {
    console.log(`  ${what!.padEnd(widths[0]!)}  ${dapr!.padEnd(widths[1]!)}  ${direct}`)
  }
  console.log(
    '\n  Locally the stand-in adds one loopback hop; in ACA the Dapr path also crosses the\n' +
      "  callee's sidecar and the mTLS between the two sidecars."
  )
  return { checks: 2 * calls + PATHS.length * FAILURES.length, failed }
}

/** `calls` requests on each path, interleaved so that both see the same conditions. */
async function timePaths(
  rig: PathRig,
  calls: number
): Promise<{ ms: Record<Path, number[]>; failedBy: Record<Path, number>; failed: number }> {
  const ms: Record<Path, number[]> = { dapr: [], direct: [] }
  const failedBy: Record<Path, number> = { dapr: 0, direct: 0 }
  for (let i = 0; i < calls; i++) {
    for (const path of PATHS) {
      const started = performance.now()
      const answer = await call(rig, path)
      ms[path].push(performance.now() - started)
      if (answer.status !== 200) failedBy[path]++
    }
  }
  return { ms, failedBy, failed: failedBy.dapr + failedBy.direct }
}

/** `GET /call-backend/<path>` with the allowed certificate: its status and code. */
async function call(rig: PathRig, path: Path): Promise<Answer> {
  try {
    const res = await fetch(`${rig.service}/call-backend/${path}`, {
      headers: { 'x-forwarded-client-cert': rig.xfcc },
      signal: AbortSignal.timeout(rig.requestTimeoutMs),
    })
    const body = (await res.json()) as {
      code?: unknown
      upstreamStatus?: unknown
      upstreamError?: { errorCode?: unknown }
    }
    const answer: Answer = { status: res.status }
    if (typeof body.code === 'string') answer.code = body.code
    if (typeof body.upstreamStatus === 'number') {
      const said = body.upstreamError?.errorCode
      answer.upstream = `${body.upstreamStatus}${typeof said === 'string' ? ` ${said}` : ''}`
    }
    return answer
  } catch (error) {
    return { status: null, error: (error as Error).message }
  }
}

/** The cell's text (`502 ERR_UPSTREAM_STATUS ✓ (upstream said 500 …)`) and its verdict. */
function judge(answer: Answer, expected: Expected): { text: string; ok: boolean } {
  if (answer.status === null) return { text: `no answer: ${answer.error} ✗`, ok: false }
  const ok = answer.status === expected.status && answer.code === expected.code
  const got = answer.code === undefined ? String(answer.status) : `${answer.status} ${answer.code}`
  const mark = ok ? '✓' : `✗ expected ${expected.status} ${expected.code ?? ''}`.trimEnd()
  const upstream = answer.upstream === undefined ? '' : ` (upstream said ${answer.upstream})`
  return { text: `${got} ${mark}${upstream}`, ok }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}
