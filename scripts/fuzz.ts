/**
 * `npm run fuzz`: the properties of test/fuzz/properties.ts, a million cases and more (by default
 * 1,050,000, split by each property's weight). Prints per-property counts (runs, passes,
 * failures, outcome codes seen, max ms per case), then `N passed, N failed`; exits 1 on any
 * failure or unhandled rejection.
 *
 *   node --import tsx scripts/fuzz.ts [--runs N] [--seed S] [--only NAME[,NAME…]]
 *
 * `--runs` is the total over all properties; a property's share does not depend on `--only`, so
 * `--seed S --runs N --only NAME` replays exactly the cases a full run gave NAME.
 * @module
 */
import process from 'node:process'
import {
  createProperties,
  type FuzzStats,
  PROPERTY_NAMES,
  runProperty,
  watchUnhandledRejections,
} from '../test/fuzz/properties.ts'

const DEFAULT_RUNS = 1_050_000

interface Args {
  runs: number
  seed: number
  only: string[] | null
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { runs: DEFAULT_RUNS, seed: Date.now() % 2 ** 31, only: null }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    const value = argv[i + 1]
    const number = Number(value)
    if (flag === '--runs' && Number.isInteger(number) && number > 0) args.runs = number
    else if (flag === '--seed' && Number.isInteger(number)) args.seed = number
    else if (flag === '--only' && value !== undefined) args.only = value.split(',')
    else usage(`bad argument ${flag ?? ''} ${value ?? ''}`)
    i++
  }
  for (const name of args.only ?? []) {
    if (!(PROPERTY_NAMES as readonly string[]).includes(name)) usage(`unknown property ${name}`)
  }
  return args
}

function usage(problem: string): never {
  console.error(
    `${problem}\nusage: scripts/fuzz.ts [--runs N] [--seed S] [--only ${PROPERTY_NAMES.join(',')}]`,
  )
  process.exit(2)
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US')
}

function formatCodes(codes: Map<string, number>): string {
  return [...codes]
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ×${formatCount(n)}`)
    .join(', ')
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`
}

const args = parseArgs(process.argv.slice(2))
const rejections = watchUnhandledRejections()
const started = performance.now()
const properties = await createProperties()
const weights = properties.reduce((sum, p) => sum + p.weight, 0)

const total = formatCount(args.runs)
console.log(
  `fuzz: seed ${args.seed}, ${total} cases (replay: --seed ${args.seed} --runs ${args.runs})`,
)
const all: FuzzStats[] = []
let peakRss = process.memoryUsage.rss()
for (const [index, prop] of properties.entries()) {
  if (args.only !== null && !args.only.includes(prop.name)) continue
  const numRuns = Math.max(1, Math.round((args.runs * prop.weight) / weights))
  // A seed per property, derived from one, so each replays alone (test/fuzz.test.ts does the same).
  const seed = args.seed + index
  const rejectedBefore = rejections.reasons.length
  console.log(`\n${prop.title}`)
  console.log(
    `  ${prop.name}: ${formatCount(numRuns)} cases, seed ${seed}, bound ${prop.boundMs} ms`,
  )
  const stats = await runProperty(prop, { numRuns, seed, mode: 'count' })
  // Rejections surface on a later tick; give them one before attributing them to this property.
  await new Promise((resolve) => setTimeout(resolve, 10))
  const rejected = rejections.reasons.length - rejectedBefore
  if (rejected > 0) {
    stats.failed += rejected
    stats.failures.push(
      `${rejected} unhandled rejection(s): ${String(rejections.reasons[rejectedBefore])}`,
    )
  }
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  all.push(stats)
  const seconds = (stats.wallMs / 1000).toFixed(1)
  const counts = [
    `runs ${formatCount(stats.runs)}`,
    `passed ${formatCount(stats.passed)}`,
    `failed ${formatCount(stats.failed)}`,
    `max ${stats.maxMs.toFixed(1)} ms per case [${stats.slowest}]`,
    `${stats.retimed} timed again`,
    `${seconds} s`,
    `rss ${mib(process.memoryUsage.rss())}`,
  ]
  console.log(`  ${counts.join(', ')}`)
  console.log(`  outcomes (${stats.codes.size} distinct): ${formatCodes(stats.codes)}`)
  if (stats.details.size > 0 && stats.details.size <= 60) {
    console.log(`  details (${stats.details.size} distinct): ${formatCodes(stats.details)}`)
  } else if (stats.details.size > 60) {
    console.log(`  details: ${stats.details.size} distinct`)
  }
  for (const failure of stats.failures) console.log(`  FAILURE ${failure}`)
  if (stats.report !== null) console.log(`  shrunk:\n${stats.report.replace(/^/gm, '    ')}`)
}
rejections.stop()

const passed = all.reduce((sum, s) => sum + s.passed, 0)
const failed = all.reduce((sum, s) => sum + s.failed, 0)
const wall = ((performance.now() - started) / 1000).toFixed(1)
console.log(`\n=== summary (seed ${args.seed}, ${wall} s wall, peak rss ${mib(peakRss)})`)
for (const s of all) {
  const columns = [
    s.name.padEnd(20),
    `runs ${formatCount(s.runs).padStart(9)}`,
    `passed ${formatCount(s.passed).padStart(9)}`,
    `failed ${formatCount(s.failed).padStart(5)}`,
    `codes ${String(s.codes.size).padStart(2)}`,
    `max ${s.maxMs.toFixed(1).padStart(6)} ms`,
  ]
  console.log(columns.join('  '))
}
console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed === 0 && passed > 0 ? 0 : 1
