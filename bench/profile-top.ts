/**
 * The top self-time entries of a V8 `.cpuprofile` (what `node --cpu-prof` writes): samples
 * grouped by function, file and line, as a share of all samples and of the non-idle ones. Used by bench/profile.ts; also
 * runs alone: node --import tsx bench/profile-top.ts <file.cpuprofile> [count]
 * @module
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export interface TopEntry {
  function: string
  /** file:line (1-based), relative to the working directory when it is a file there. */
  location: string
  percent: number
  /** Share of the samples where the thread was not idle. */
  busyPercent: number
  samples: number
}

function where(url: string, line: number): string {
  if (url === '') return ''
  let file = url
  if (url.startsWith('file://')) {
    const path = fileURLToPath(url)
    const rel = relative(process.cwd(), path)
    file = rel.startsWith('..') ? path : rel
  }
  return `${file}:${line + 1}`
}

/** The `count` entries with the most self samples; time between samples weighs each one. */
export function topSelfTime(file: string, count = 15): TopEntry[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const totals = new Map<string, { entry: Pick<TopEntry, 'function' | 'location'>; weight: number; samples: number }>()
  let all = 0
  let idle = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)
    if (node === undefined) return
    // timeDeltas[i] is the time since the previous sample: the time sample i stands for.
    const weight = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0
    const { functionName, url, lineNumber } = node.callFrame
    const location = where(url, lineNumber)
    const key = `${functionName}\u0000${location}`
    const total = totals.get(key) ?? { entry: { function: functionName || '(anonymous)', location }, weight: 0, samples: 0 }
    total.weight += weight
    total.samples++
    totals.set(key, total)
    all += weight
    if (functionName === '(idle)') idle += weight
  })
  const busy = Math.max(1, all - idle)
  return [...totals.values()]
    .sort((a, b) => b.weight - a.weight)
    .slice(0, count)
    .map((t) => ({
      ...t.entry,
      percent: (100 * t.weight) / Math.max(1, all),
      busyPercent: t.entry.function === '(idle)' ? 0 : (100 * t.weight) / busy,
      samples: t.samples,
    }))
}

/** The entries as a plain-text table. */
export function formatTop(entries: TopEntry[]): string {
  const width = Math.max(8, ...entries.map((e) => e.function.length))
  const head = `${'all'.padStart(6)}  ${'busy'.padStart(6)}  ${'function'.padEnd(width)}  file:line`
  const lines = entries.map(
    (e) => `${e.percent.toFixed(1).padStart(5)}%  ${e.function === '(idle)' ? '      ' : `${e.busyPercent.toFixed(1).padStart(5)}%`}  ${e.function.padEnd(width)}  ${e.location}`,
  )
  return [head, ...lines].join('\n')
}

const self = fileURLToPath(import.meta.url)
if (process.argv[1] !== undefined && relative(process.argv[1], self) === '') {
  const [file, count] = process.argv.slice(2)
  if (file === undefined) {
    console.error('usage: node --import tsx bench/profile-top.ts <file.cpuprofile> [count]')
    process.exit(2)
  }
  console.log(formatTop(topSelfTime(file, Number(count ?? 15))))
}
