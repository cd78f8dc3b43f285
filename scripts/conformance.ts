/**
 * x509-limbo through certgate's real verification path, side by side with other validators.
 *
 * Usage: npm run conformance [-- path/to/limbo.json] [--json]
 *
 * Each case becomes one request to a verifier made by `createClientCertVerifier`: the trusted
 * certificates are the roots, the untrusted intermediates ride in the XFCC `Chain`, the leaf in
 * `Cert` with its `Hash`, the validation time is the clock, the CRLs and the maximum depth are
 * trust options, and SERVER cases ask for serverAuth where certgate asks for clientAuth. No case
 * id is special-cased. certgate does no hostname verification, so a case whose expected refusal
 * can come from the peer name alone (the leaf does not carry the expected name) is reported
 * apart. Peers' results are read from `results/*.json` beside the suite file.
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import process from 'node:process'
import {
  createClientCertVerifier,
  createTrustVerifier,
  decodeCertificates,
  formatXfcc,
  readClientCertificate,
} from '../src/index.ts'

export const DEFAULT_SUITE = join(import.meta.dirname ?? '.', '..', '..', 'shared', 'x509-limbo', 'limbo.json')

interface PeerName {
  kind: 'DNS' | 'IP' | 'RFC822'
  value: string
}

interface LimboCase {
  id: string
  description: string
  validation_kind: 'SERVER' | 'CLIENT'
  trusted_certs: string[]
  untrusted_intermediates: string[]
  peer_certificate: string
  validation_time: string | null
  extended_key_usage: string[]
  expected_result: 'SUCCESS' | 'FAILURE'
  expected_peer_name: PeerName | null
  expected_peer_names: PeerName[]
  max_chain_depth: number | null
  crls: string[]
}

type Result = 'SUCCESS' | 'FAILURE' | 'SKIPPED'

/** Where a case is counted: judged (client-relevant), the Web-PKI profile, or hostname-bound. */
export type Group = 'judged' | 'webpki' | 'hostname'

export interface CaseOutcome {
  id: string
  category: string
  group: Group
  expected: 'SUCCESS' | 'FAILURE'
  actual: Result
  code: string | null
  peers: Record<string, Result>
}

/** The category a case is reported under: its id up to the last `::`-separated name. */
function categoryOf(id: string): string {
  const parts = id.split('::')
  return parts.length > 2 ? parts.slice(0, 2).join('::') : parts[0]!
}

function dnsMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase()
  const n = name.toLowerCase()
  if (p === n) return true
  if (!p.startsWith('*.')) return false
  const dot = n.indexOf('.')
  return dot > 0 && n.slice(dot + 1) === p.slice(2)
}

function ipText(value: string): string {
  try {
    return new URL(`http://${value.includes(':') ? `[${value}]` : value}/`).hostname.replace(/^\[|\]$/g, '')
  } catch {
    return value.toLowerCase()
  }
}

/** Whether the leaf carries every expected peer name (RFC 6125-style, SANs only). */
async function carriesPeerNames(leafDer: Uint8Array, names: PeerName[]): Promise<boolean> {
  let leaf
  try {
    leaf = await readClientCertificate(leafDer)
  } catch {
    return true // unreadable: certgate refuses it on its own grounds
  }
  return names.every((name) => {
    if (name.kind === 'DNS') return leaf.dnsNames.some((san) => dnsMatches(san, name.value))
    if (name.kind === 'IP') return leaf.ips.some((ip) => ipText(ip) === ipText(name.value))
    return leaf.emails.some((email) => email === name.value)
  })
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The EKU the case validates for: the one it names, else what its kind implies (a SERVER case
 * without a named EKU asks for serverAuth, as the peers' harnesses do).
 */
function purposeOf(c: LimboCase): 'clientAuth' | 'serverAuth' {
  const named = c.extended_key_usage[0]
  if (named === 'clientAuth' || named === 'serverAuth') return named
  return c.validation_kind === 'SERVER' ? 'serverAuth' : 'clientAuth'
}

/** Runs one case through the verifier; the answer and certgate's code when it refused. */
async function runCase(c: LimboCase): Promise<{ actual: Result; code: string | null }> {
  let leafDer: Uint8Array
  try {
    leafDer = decodeCertificates(c.peer_certificate, { maxCertificates: 1 })[0]!
  } catch {
    return { actual: 'FAILURE', code: 'ERR_CERT_MALFORMED' }
  }
  const nowMs = c.validation_time === null ? Date.now() : Date.parse(c.validation_time)
  let verifier
  try {
    verifier = createClientCertVerifier({
      allow: 'any-valid',
      cache: false,
      now: () => nowMs,
      maxChainLength: 32,
      trust: createTrustVerifier({
        roots: c.trusted_certs,
        crls: c.crls,
        purpose: purposeOf(c),
        ...(c.max_chain_depth === null ? {} : { maxDepth: c.max_chain_depth + 1 }),
      }),
    })
  } catch (error) {
    // A configuration certgate refuses outright (a trusted cert it will not anchor on) refuses.
    return { actual: 'FAILURE', code: `config: ${(error as Error).message}` }
  }
  const element = {
    by: [],
    hash: await sha256Hex(leafDer),
    cert: c.peer_certificate,
    ...(c.untrusted_intermediates.length > 0 ? { chain: c.untrusted_intermediates.join('') } : {}),
    uri: [],
    dns: [],
  }
  const header = formatXfcc([element])
  const request = new Request('http://limbo.test/', { headers: { 'x-forwarded-client-cert': header } })
  const result = await verifier(request)
  return result.ok ? { actual: 'SUCCESS', code: null } : { actual: 'FAILURE', code: result.error.code }
}

function loadPeers(suitePath: string): Map<string, Map<string, Result>> {
  const dir = join(dirname(suitePath), 'results')
  const peers = new Map<string, Map<string, Result>>()
  let files: string[] = []
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
  } catch {
    return peers
  }
  for (const file of files) {
    const data = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { results: Array<{ id: string; actual_result: Result }> }
    peers.set(basename(file, '.json'), new Map(data.results.map((r) => [r.id, r.actual_result])))
  }
  return peers
}

/** Runs every case of the suite at `suitePath`. */
export async function runConformance(suitePath: string): Promise<CaseOutcome[]> {
  const suite = JSON.parse(readFileSync(suitePath, 'utf8')) as { testcases: LimboCase[] }
  const peers = loadPeers(suitePath)
  const outcomes: CaseOutcome[] = []
  for (const c of suite.testcases) {
    const { actual, code } = await runCase(c)
    const names = [...(c.expected_peer_name === null ? [] : [c.expected_peer_name]), ...c.expected_peer_names]
    let group: Group = c.id.startsWith('webpki::') ? 'webpki' : 'judged'
    if (c.expected_result === 'FAILURE' && names.length > 0) {
      const leaf = decodeCertificates(c.peer_certificate, { maxCertificates: 1 })[0]!
      if (!(await carriesPeerNames(leaf, names))) group = 'hostname'
    }
    outcomes.push({
      id: c.id,
      category: categoryOf(c.id),
      group,
      expected: c.expected_result,
      actual,
      code,
      peers: Object.fromEntries([...peers].map(([peer, results]) => [peer, results.get(c.id) ?? 'SKIPPED'])),
    })
  }
  return outcomes
}

interface Tally {
  cases: number
  agree: number
  falseAccepts: number
  falseRejects: number
}

function tally(outcomes: CaseOutcome[], answer: (o: CaseOutcome) => Result): Tally {
  const t: Tally = { cases: outcomes.length, agree: 0, falseAccepts: 0, falseRejects: 0 }
  for (const o of outcomes) {
    const a = answer(o)
    if (a === o.expected) t.agree++
    else if (a === 'SUCCESS') t.falseAccepts++
    else if (a === 'FAILURE') t.falseRejects++
  }
  return t
}

/** Agreement per group and category, certgate first, then each peer, as printable lines. */
export function summarise(outcomes: CaseOutcome[]): { lines: string[]; totals: Record<string, Record<string, Tally>> } {
  const peerNames = Object.keys(outcomes[0]?.peers ?? {})
  const who = ['certgate', ...peerNames]
  const answer = (name: string) => (o: CaseOutcome): Result => (name === 'certgate' ? o.actual : o.peers[name]!)
  const cell = (t: Tally): string => `${t.agree}/${t.cases} fa ${t.falseAccepts} fr ${t.falseRejects}`.padEnd(22)
  const lines: string[] = []
  const totals: Record<string, Record<string, Tally>> = {}
  lines.push(`${'category'.padEnd(34)}${who.map((w) => w.slice(0, 21).padEnd(22)).join('')}`)
  for (const group of ['judged', 'webpki', 'hostname'] as const) {
    const inGroup = outcomes.filter((o) => o.group === group)
    const categories = [...new Set(inGroup.map((o) => o.category))].sort()
    lines.push('', `[${group}] ${inGroup.length} cases`)
    for (const category of categories) {
      const rows = inGroup.filter((o) => o.category === category)
      lines.push(`${category.padEnd(34)}${who.map((w) => cell(tally(rows, answer(w)))).join('')}`)
    }
    totals[group] = Object.fromEntries(who.map((w) => [w, tally(inGroup, answer(w))]))
    lines.push(`${`TOTAL ${group}`.padEnd(34)}${who.map((w) => cell(totals[group]![w]!)).join('')}`)
  }
  return { lines, totals }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const json = args.includes('--json')
  const path = args.find((a) => !a.startsWith('--')) ?? DEFAULT_SUITE
  const outcomes = await runConformance(path)
  const { lines, totals } = summarise(outcomes)
  if (json) {
    process.stdout.write(`${JSON.stringify({ totals, outcomes }, null, 2)}\n`)
    return
  }
  console.log(`x509-limbo: ${path}`)
  console.log('each cell: agreement/cases, false accepts (fa), false rejects (fr)\n')
  for (const line of lines) console.log(line)
  const disagreements = outcomes.filter((o) => o.actual !== o.expected)
  console.log(`\ncertgate disagreements (${disagreements.length}):`)
  for (const o of disagreements) {
    console.log(`  [${o.group}] ${o.id}: expected ${o.expected}, certgate ${o.actual}${o.code ? ` (${o.code})` : ''}`)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
