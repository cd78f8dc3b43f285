/**
 * The fuzz properties, shared by the short budget in `npm test` (test/fuzz.test.ts)
 * and the million-case run (`npm run fuzz`, scripts/fuzz.ts). Each property is an arbitrary, a
 * check that throws on a violation and otherwise names the outcome (an error code, `ok`, `200`),
 * and a time bound per case. The checks are oracles, not just "did not crash": parse results are
 * re-formatted and re-parsed, middleware answers are compared with what the header says, and a
 * DER refusal must agree with the signature-parts reader.
 *
 * The existing properties in test/xfcc.test.ts, test/x509-fields.test.ts and test/hono.test.ts
 * stay small and local; these go further: full Unicode and the XFCC alphabet at scale, headers
 * rebuilt with whitespace and shuffled pairs, 64 KiB values, thousands of elements and header
 * lines, pair-level mutations of real Envoy headers, and DER mutated as a tree (so lengths stay
 * consistent and the reader gets past the framing) as well as byte by byte.
 * @module
 */
// First, as in src/testing/: @peculiar/x509 needs the Reflect polyfill while it loads (Bun).
import 'reflect-metadata'
import process from 'node:process'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { Hono } from 'hono'
import { digestHex } from '../../src/x509/certificate.ts'
import { CertgateError, type CertgateErrorCode } from '../../src/errors.ts'
import { clientCert, type ClientCertEnv, type ClientCertMiddlewareOptions } from '../../src/adapters/hono.ts'
import { decodeCertificates, encodePem } from '../../src/x509/pem.ts'
import {
  createTestCertificate,
  createTestPki,
  type TestCertificate,
  type TestPki,
  xfccHeader,
} from '../../src/testing/index.ts'
import { readCertificateFields, readSignatureParts } from '../../src/x509/fields.ts'
import { countNameAttributes } from '../../src/x509/name.ts'
import { encodeXfccPem, formatXfcc } from '../../src/xfcc/format.ts'
import { parseXfcc, type XfccElement } from '../../src/xfcc/parse.ts'

// ---------------------------------------------------------------------------------------------
// The property shape and the runner both entry points use

/** What one case came to: an error code (or `ok`, `200`), and optionally a finer reason. */
export interface Outcome {
  code: string
  detail?: string
}

/** One property, its type parameter erased so a list of them can be run alike. */
export interface FuzzProperty {
  /** Stable id, used on the command line (`--only`) and in reports. */
  readonly name: string
  readonly title: string
  readonly arbitrary: fc.Arbitrary<unknown>
  /**
   * Turns a generated value into the input under test, untimed: building a mutated certificate
   * is the fuzzer's cost, not the library's.
   */
  readonly prepare: (value: unknown) => unknown
  /**
   * Throws on a violation. `fresh` asks for a run that cannot be served from a cache, used when a
   * slow case is timed again.
   */
  readonly check: (value: unknown, fresh: boolean) => Outcome | Promise<Outcome>
  readonly async: boolean
  /** A case slower than this twice in a row fails. */
  readonly boundMs: number
  /** Share of `npm run fuzz`'s total, in cases per 1,050 (so the default total is 1,050,000). */
  readonly weight: number
  /** Cases in the short budget of `npm test`. */
  readonly testRuns: number
}

function property<T, P = T>(spec: {
  name: string
  title: string
  arbitrary: fc.Arbitrary<T>
  prepare?: (value: T) => P | Promise<P>
  check: (input: P, fresh: boolean) => Outcome | Promise<Outcome>
  async: boolean
  boundMs: number
  weight: number
  testRuns: number
}): FuzzProperty {
  return { prepare: (value: unknown) => value, ...spec } as unknown as FuzzProperty
}

/** Counts for one property run. */
export interface FuzzStats {
  name: string
  runs: number
  passed: number
  failed: number
  /** Outcome code → cases. */
  codes: Map<string, number>
  /** Finer reasons (DER refusal causes, …) → cases. */
  details: Map<string, number>
  maxMs: number
  /** The outcome (detail) of the slowest case. */
  slowest: string
  /** Cases over the bound once, then within it when timed again (a pause, not the input). */
  retimed: number
  /** The first few failures, printable. */
  failures: string[]
  /** fast-check's report for the first failure, shrunk (assert mode and count mode alike). */
  report: string | null
  wallMs: number
  seed: number
}

export interface RunOptions {
  numRuns: number
  seed: number
  /**
   * `assert`: stop at the first failure and shrink it (tests). `count`: run every case, count
   * failures, then replay with the same seed to shrink the first one (the fuzz script).
   */
  mode: 'assert' | 'count'
}

const MAX_KEPT_FAILURES = 3

/** Runs one property; never throws for a property failure (read `failed` and `report`). */
export async function runProperty(prop: FuzzProperty, options: RunOptions): Promise<FuzzStats> {
  const stats: FuzzStats = {
    name: prop.name,
    runs: 0,
    passed: 0,
    failed: 0,
    codes: new Map(),
    details: new Map(),
    maxMs: 0,
    slowest: '',
    retimed: 0,
    failures: [],
    report: null,
    wallMs: 0,
    seed: options.seed,
  }
  const started = performance.now()
  const record = (value: unknown, error: unknown): void => {
    stats.failed++
    if (stats.failures.length < MAX_KEPT_FAILURES) {
      stats.failures.push(
        `${describeError(error)}\n    input: ${truncate(fc.stringify(value), 600)}`,
      )
    }
  }
  const counting = options.mode === 'count'
  const syncCase = (value: unknown): boolean => {
    stats.runs++
    try {
      tally(stats, timeSync(prop, value, stats))
      stats.passed++
    } catch (error) {
      if (!counting) throw error
      record(value, error)
    }
    return true
  }
  const asyncCase = async (value: unknown): Promise<boolean> => {
    stats.runs++
    try {
      tally(stats, await timeAsync(prop, value, stats))
      stats.passed++
    } catch (error) {
      if (!counting) throw error
      record(value, error)
    }
    return true
  }
  const params = { numRuns: options.numRuns, seed: options.seed }
  const details = prop.async
    ? await fc.check(fc.asyncProperty(prop.arbitrary, asyncCase), params)
    : fc.check(fc.property(prop.arbitrary, syncCase), params)
  if (details.failed) {
    // Assert mode: fast-check stopped at the first failure and shrank it. Shrinking re-ran the
    // property and bumped the tallies, so the counts are fast-check's: runs up to the failure.
    stats.runs = details.numRuns
    stats.failed = Math.max(stats.failed, 1)
    stats.passed = Math.max(0, details.numRuns - 1)
    if (stats.failures.length === 0) {
      stats.failures.push(
        `${describeError(details.errorInstance)}\n    input: ${
          truncate(fc.stringify(details.counterexample), 600)
        }`,
      )
    }
    // The report quotes the counterexample in full, which for a 64 KiB header is too much.
    stats.report = truncate(fc.defaultReportMessage(details) ?? '', 3000)
  } else if (stats.failed > 0) {
    // Count mode saw failures: replay the same seed in assert mode for a shrunk counterexample.
    const replay = await runProperty(prop, { ...options, mode: 'assert' })
    stats.report = replay.report
  }
  stats.wallMs = performance.now() - started
  return stats
}

function tally(stats: FuzzStats, outcome: Outcome): void {
  stats.codes.set(outcome.code, (stats.codes.get(outcome.code) ?? 0) + 1)
  if (outcome.detail !== undefined) {
    stats.details.set(outcome.detail, (stats.details.get(outcome.detail) ?? 0) + 1)
  }
}

function overBound(prop: FuzzProperty, first: number, second: number): Error {
  return new Error(
    `${prop.name}: a case took ${first.toFixed(1)} ms, then ${second.toFixed(1)} ms timed again, ` +
      `over the ${prop.boundMs} ms bound`,
  )
}

// A case over the bound is timed once more, cache-free: a GC pause or a busy CPU is slow once,
// a super-linear input is slow every time. The first duration is the one reported.
function timeSync(prop: FuzzProperty, value: unknown, stats: FuzzStats): Outcome {
  const input = prop.prepare(value)
  let t = performance.now()
  const outcome = prop.check(input, false) as Outcome
  const ms = performance.now() - t
  if (ms > stats.maxMs) {
    stats.maxMs = ms
    stats.slowest = outcome.detail ?? outcome.code
  }
  if (ms > prop.boundMs) {
    t = performance.now()
    prop.check(input, true)
    const again = performance.now() - t
    if (again > prop.boundMs) throw overBound(prop, ms, again)
    stats.retimed++
  }
  return outcome
}

async function timeAsync(prop: FuzzProperty, value: unknown, stats: FuzzStats): Promise<Outcome> {
  const input = await prop.prepare(value)
  let t = performance.now()
  const outcome = await prop.check(input, false)
  const ms = performance.now() - t
  if (ms > stats.maxMs) {
    stats.maxMs = ms
    stats.slowest = outcome.detail ?? outcome.code
  }
  if (ms > prop.boundMs) {
    t = performance.now()
    await prop.check(input, true)
    const again = performance.now() - t
    if (again > prop.boundMs) throw overBound(prop, ms, again)
    stats.retimed++
  }
  return outcome
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${truncate(error.message, 800)}`
  return truncate(String(error), 800)
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`
}

/**
 * Counts unhandled rejections from now on. process.on works on Node, Bun and Deno (node:process),
 * and having a listener keeps a rejection from killing the run before it is reported.
 */
export function watchUnhandledRejections(): { reasons: unknown[]; stop: () => void } {
  const reasons: unknown[] = []
  const listener = (reason: unknown): void => {
    reasons.push(reason)
  }
  process.on('unhandledRejection', listener)
  return { reasons, stop: () => process.off('unhandledRejection', listener) }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function fail(message: string): never {
  throw new Error(message)
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/** `name` with the case of each letter taken from the bits of `mask`. */
function withCase(name: string, mask: number): string {
  let out = ''
  for (let i = 0; i < name.length; i++) {
    out += (mask >> i) & 1 ? name[i]!.toUpperCase() : name[i]!.toLowerCase()
  }
  return out
}

const XFCC_KEYS = ['By', 'Hash', 'Cert', 'Chain', 'Subject', 'URI', 'DNS'] as const

/** A key name in any letter case. */
const anyCaseKey: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...XFCC_KEYS), fc.nat())
  .map(([key, mask]) => withCase(key, mask))

const HEADER_WHITESPACE = [' ', '\t', '\n', '\v', '\f', '\r']

/** Whitespace as Envoy's parser (and ours) trims it around `,` `;` `=`. */
const ws: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  {
    weight: 2,
    arbitrary: fc.string({ unit: fc.constantFrom(...HEADER_WHITESPACE), maxLength: 3 }),
  },
)

/** Full Unicode, with lone surrogates, NUL and look-alikes of key letters added on purpose. */
const unicodeChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  {
    weight: 1,
    // Lone surrogates; NUL; Kelvin sign, long s, dotted I, whose case mappings are ASCII letters.
    arbitrary: fc.constantFrom(
      ...'\ud800 \udfff \u0000 \u212a \u017f \u0130 \u00a0 \ufeff'.split(' '),
    ),
  },
)

/** Every character the XFCC grammar gives a meaning to, and escapes for Cert and Chain. */
const xfccChar: fc.Arbitrary<string> = fc.constantFrom(...'",;=\\ %\t', '\n', '\r', '\v', '\f')

const xfccToken: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: xfccChar },
  { weight: 3, arbitrary: anyCaseKey },
  { weight: 2, arbitrary: anyCaseKey.map((key) => `${key}=`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ...'a 0 F %2 %0A %25 %zz %E2%82 %C0%80 %ED%A0%80 \\" \\\\ { [ Foo x-'.split(' '),
      '-----BEGIN CERTIFICATE-----',
    ),
  },
  { weight: 2, arbitrary: unicodeChar },
)

// ---------------------------------------------------------------------------------------------
// Property 1: parseXfcc on arbitrary strings

/** A header built from the grammar (mostly valid), so the success path gets as much fuzz. */
const structuredHeader: fc.Arbitrary<string> = (() => {
  const rawValue = fc.string({
    unit: fc.oneof(xfccToken, fc.constantFrom('a', 'b', '1')),
    maxLength: 12,
  })
  const quotedValue = rawValue.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
  const pair = fc
    .tuple(
      ws,
      fc.oneof({ weight: 5, arbitrary: anyCaseKey }, {
        weight: 1,
        arbitrary: fc.constantFrom('Foo', 'x', 'Bye'),
      }),
      ws,
      ws,
      fc.oneof(rawValue, quotedValue),
      ws,
    )
    .map(([a, key, b, c, value, d]) => `${a}${key}${b}=${c}${value}${d}`)
  const element = fc
    .tuple(fc.array(pair, { minLength: 1, maxLength: 6 }), fc.boolean())
    .map(([pairs, trailing]) => pairs.join(';') + (trailing ? ';' : ''))
  return fc
    .tuple(
      fc.array(element, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.nat(),
      fc.option(xfccToken),
    )
    .map(([elements, trailing, at, insert]) => {
      const header = elements.join(',') + (trailing ? ',' : '')
      if (insert === null) return header
      // One stray token somewhere turns a valid header into a near miss.
      const i = at % (header.length + 1)
      return header.slice(0, i) + insert + header.slice(i)
    })
})()

/** One piece repeated to a large size: linear-time parsing shows here, or does not. */
function repeated(piece: fc.Arbitrary<string>, maxLength: number): fc.Arbitrary<string> {
  return fc
    .tuple(
      piece.filter((p) => p.length > 0),
      fc.integer({ min: 1, max: maxLength }),
      fc.string({ unit: xfccToken, maxLength: 4 }),
    )
    .map(([p, length, tail]) => p.repeat(Math.ceil(length / p.length)).slice(0, length) + tail)
}

const parseInput: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: unicodeChar, maxLength: 40 }) },
  { weight: 6, arbitrary: fc.string({ unit: xfccToken, maxLength: 40 }) },
  { weight: 6, arbitrary: structuredHeader },
  { weight: 1, arbitrary: repeated(fc.string({ unit: xfccToken, maxLength: 6 }), 100_000) },
  { weight: 1, arbitrary: repeated(structuredHeader.map((h) => `${h},`), 100_000) },
)

const ELEMENT_KEYS = new Set(['by', 'hash', 'cert', 'chain', 'subject', 'uri', 'dns'])
const XFCC_CODES: ReadonlySet<string> = new Set<CertgateErrorCode>([
  'ERR_HEADER_MALFORMED',
  'ERR_XFCC_UNSUPPORTED_FORMAT',
])

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

function assertWellFormedElement(element: unknown): asserts element is XfccElement {
  if (
    typeof element !== 'object' || element === null ||
    Object.getPrototypeOf(element) !== Object.prototype
  ) {
    fail('an element is not a plain object')
  }
  const e = element as Record<string, unknown>
  for (const key of Object.keys(e)) {
    if (!ELEMENT_KEYS.has(key)) fail(`unexpected element key ${key}`)
  }
  if (!isStringArray(e.by) || !isStringArray(e.uri) || !isStringArray(e.dns)) {
    fail('By/URI/DNS not string arrays')
  }
  for (const key of ['hash', 'cert', 'chain'] as const) {
    // An empty Hash, Cert or Chain is documented to read as absent, so never ''.
    if (key in e && (typeof e[key] !== 'string' || e[key] === '')) {
      fail(`${key} present but not a non-empty string`)
    }
  }
  if ('subject' in e && typeof e.subject !== 'string') fail('subject present but not a string')
}

function hasValue(element: XfccElement): boolean {
  return (
    element.by.length + element.uri.length + element.dns.length > 0 ||
    element.hash !== undefined ||
    element.cert !== undefined ||
    element.chain !== undefined ||
    element.subject !== undefined
  )
}

function checkParse(header: string): Outcome {
  let elements: XfccElement[]
  try {
    elements = parseXfcc(header)
  } catch (error) {
    if (!(error instanceof CertgateError)) {
      fail(`threw a non-CertgateError: ${describeError(error)}`)
    }
    if (!XFCC_CODES.has(error.code)) fail(`threw ${error.code}`)
    if (error.status !== 403) fail(`status ${error.status}`)
    // Messages are documented never to echo the header.
    const trimmed = header.trim()
    if (trimmed.length >= 8 && error.message.includes(trimmed)) {
      fail('the error message echoes the header')
    }
    return { code: error.code, detail: error.message }
  }
  if (!Array.isArray(elements) || elements.length === 0) {
    fail('returned no elements without throwing')
  }
  elements.forEach(assertWellFormedElement)
  // Whatever parses must write back and parse to the same thing: the parser's output is always
  // something the formatter can express, except an element of unknown keys only.
  if (elements.every(hasValue)) {
    const again = parseXfcc(formatXfcc(elements))
    if (!isDeepStrictEqual(again, elements)) fail('parse → format → parse changed the elements')
  } else {
    let threw = false
    try {
      formatXfcc(elements)
    } catch (error) {
      threw = error instanceof RangeError
    }
    if (!threw) fail('formatXfcc accepted an element without values')
  }
  return {
    code: 'ok',
    detail: elements.every(hasValue) ? 'ok: round-tripped' : 'ok: element of unknown keys only',
  }
}

// ---------------------------------------------------------------------------------------------
// Property 2: parseXfcc(formatXfcc(x)) deep-equals x, also when re-spaced, re-cased and shuffled

const valueChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: unicodeChar },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ...'"|\\|,|;|=|%|%2|%25|%0A| |\t|\n|\r|\v|\f|+|/|{|[|\\"|\\\\|URI=|Cert="|é|😀'.split('|'),
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom('a', 'Z', '0', '-', '.', ':') },
)

function valueText(pems: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: valueChar, maxLength: 24 }) },
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom(...pems) },
    // Long values, built by repetition: generating thousands of characters one by one would cost
    // more than the property.
    {
      weight: 1,
      arbitrary: repeated(fc.string({ unit: valueChar, minLength: 1, maxLength: 8 }), 4000),
    },
  )
}

interface RoundTripCase {
  elements: XfccElement[]
  /** null: formatXfcc's own output. Else the header rebuilt pair by pair. */
  layout: null | {
    spaces: string[]
    masks: number[]
    order: number[]
    trailing: boolean[]
    trailingComma: boolean
  }
}

function roundTripArbitrary(pems: readonly string[]): fc.Arbitrary<RoundTripCase> {
  const text = valueText(pems)
  const nonEmpty = text.filter((s) => s !== '')
  const list = fc.array(text, { maxLength: 5 })
  const element: fc.Arbitrary<XfccElement> = fc
    .record(
      {
        by: list,
        hash: nonEmpty,
        cert: nonEmpty,
        chain: nonEmpty,
        subject: text,
        uri: list,
        dns: list,
      },
      { requiredKeys: ['by', 'uri', 'dns'] },
    )
    // fc.record builds null-prototype objects; parseXfcc's are plain, and deep equality compares.
    .map((el) => ({ ...el }))
    // formatXfcc's documented constraint: an element needs at least one value.
    .filter(hasValue)
  const layout = fc.record({
    spaces: fc.array(ws, { minLength: 16, maxLength: 16 }),
    masks: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
    order: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
    trailing: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    trailingComma: fc.boolean(),
  })
  return fc.record({
    elements: fc.array(element, { minLength: 1, maxLength: 6 }),
    layout: fc.option(layout, { freq: 2 }),
  })
}

/** The pairs of one element, each written by formatXfcc alone, with its key. */
function pairsOf(element: XfccElement): Array<{ key: string; text: string }> {
  const one = (partial: Partial<XfccElement>): string =>
    formatXfcc([{ by: [], uri: [], dns: [], ...partial }])
  const pairs: Array<{ key: string; text: string }> = []
  for (const by of element.by) pairs.push({ key: 'by', text: one({ by: [by] }) })
  if (element.hash) pairs.push({ key: 'hash', text: one({ hash: element.hash }) })
  if (element.cert) pairs.push({ key: 'cert', text: one({ cert: element.cert }) })
  if (element.chain) pairs.push({ key: 'chain', text: one({ chain: element.chain }) })
  if (element.subject !== undefined) {
    pairs.push({ key: 'subject', text: one({ subject: element.subject }) })
  }
  for (const uri of element.uri) pairs.push({ key: 'uri', text: one({ uri: [uri] }) })
  for (const dns of element.dns) pairs.push({ key: 'dns', text: one({ dns: [dns] }) })
  return pairs
}

/**
 * The header rebuilt from single pairs: keys in any case, whitespace around `=` `;` `,`, pairs
 * of different keys in any order (pairs of one list key keep their order, which is meaningful),
 * trailing `;` and `,`. Every variation is one the grammar says means the same elements.
 */
function respaced(elements: XfccElement[], layout: NonNullable<RoundTripCase['layout']>): string {
  let s = 0
  const space = (): string => layout.spaces[s++ % layout.spaces.length]!
  return (
    elements
      .map((element, e) => {
        const pairs = pairsOf(element)
        const shuffled = pairs
          .map((pair, i) => ({ pair, rank: layout.order[(i + e) % layout.order.length]! }))
          .sort((a, b) => a.rank - b.rank)
          .map(({ pair }) => pair)
        // Put each list key's values back in their original order, in the slots the shuffle
        // gave that key.
        const queues = new Map<string, string[]>()
        for (const pair of pairs) queues.set(pair.key, [...(queues.get(pair.key) ?? []), pair.text])
        const texts = shuffled.map((pair) => queues.get(pair.key)!.shift()!)
        const written = texts.map((text, i) => {
          const eq = text.indexOf('=')
          const key = withCase(text.slice(0, eq), layout.masks[(i + e) % layout.masks.length]!)
          return `${space()}${key}${space()}=${space()}${text.slice(eq + 1)}${space()}`
        })
        return written.join(';') + (layout.trailing[e % layout.trailing.length] ? ';' : '')
      })
      .join(',') + (layout.trailingComma ? `,${space()}` : '')
  )
}

function checkRoundTrip(c: RoundTripCase): Outcome {
  const header = c.layout === null ? formatXfcc(c.elements) : respaced(c.elements, c.layout)
  let parsed: XfccElement[]
  try {
    parsed = parseXfcc(header)
  } catch (error) {
    fail(`the formatted header did not parse: ${describeError(error)}`)
  }
  if (!isDeepStrictEqual(parsed, c.elements)) fail('parseXfcc(formatXfcc(x)) differs from x')
  return { code: 'ok', detail: c.layout === null ? 'formatXfcc' : 'respaced' }
}

// ---------------------------------------------------------------------------------------------
// The PKI, headers and apps the middleware properties use

export const ALLOWED_CN = 'api-client.contoso.com'
const HEADER = 'x-forwarded-client-cert'
const BIG_HEADER_LIMIT = 1 << 20
const DEFAULT_HEADER_LIMIT = 16384

/** Every code the middleware may refuse with (all 403); a typo here fails the type check. */
const REFUSAL_CODES: ReadonlySet<string> = new Set<CertgateErrorCode>([
  'ERR_CERT_MISSING',
  'ERR_HEADER_MALFORMED',
  'ERR_HEADER_INCONSISTENT',
  'ERR_XFCC_UNSUPPORTED_FORMAT',
  'ERR_HEADER_TOO_LARGE',
  'ERR_CERT_MALFORMED',
  'ERR_CHAIN_TOO_LONG',
  'ERR_CERT_HASH_MISMATCH',
  'ERR_CERT_EXPIRED',
  'ERR_CERT_NOT_YET_VALID',
  'ERR_CERT_NOT_ALLOWED',
  'ERR_CERT_USAGE',
])

// verify.ts turns any non-CertgateError into ERR_CERT_NOT_ALLOWED with this detail, so that a
// bug refuses rather than crashes. The status alone would hide such a bug; the detail shows it.
const MASKED_INTERNAL_ERROR = 'The client certificate was refused.'

interface Apps {
  /** The everyday configuration: allow by CN, every other option at its default. */
  standard: Hono<ClientCertEnv>
  /** The same without the verdict caches, for timing a slow case again. */
  standardFresh: Hono<ClientCertEnv>
  /** A 1 MiB header limit and no cache: huge values reach the parser, not just the size check. */
  big: Hono<ClientCertEnv>
}

type AppName = 'standard' | 'big'

function appWith(options: ClientCertMiddlewareOptions): Hono<ClientCertEnv> {
  const app = new Hono<ClientCertEnv>()
  app.use('/api/*', clientCert(options))
  app.get('/api/cert-info', (c) => c.json(c.var.clientCert))
  return app
}

/** The certificates, headers and apps both middleware properties share. Built once. */
export interface FuzzContext {
  allowed: TestCertificate
  allowedRsa: TestCertificate
  denied: TestCertificate
  rich: TestCertificate
  expired: TestCertificate
  /** DER bases for mutation: leaves, the intermediate and the root. */
  bases: Uint8Array[]
  /** Real Envoy headers: the allowed leaf first. */
  headers: string[]
  allowedThumbprints: ReadonlySet<string>
  /** parseXfcc of the allowed leaf's header, element 0: the one element that must authenticate. */
  goodElements: XfccElement[]
  /** Certificates whose URI or DNS SAN writes an element naming `allowed`, when copied in raw. */
  injectors: Injector[]
  apps: Apps
}

export async function createFuzzContext(): Promise<FuzzContext> {
  const pki = await createTestPki()
  const allowed = await pki.issue({
    commonName: ALLOWED_CN,
    dnsNames: [ALLOWED_CN],
    uris: ['spiffe://contoso.com/ns/api/sa/client'],
  })
  const allowedRsa = await pki.issue({ commonName: ALLOWED_CN, keyAlgorithm: 'RSA-2048' })
  const denied = await pki.issue({ commonName: 'intruder.example' })
  // Many field types at once: multi-valued RDNs, UTF-8, every SAN kind, so mutations reach them.
  const rich = await pki.issue({
    subject: [
      { C: ['US'] },
      { O: ['Contoso, Ltd.'], OU: ['Ünits', 'R+D'] },
      { CN: [ALLOWED_CN] },
    ],
    dnsNames: ['a.example', '*.b.example'],
    uris: ['https://example.com/x', 'urn:uuid:1'],
    emails: ['ops@example.com'],
    ips: ['192.0.2.1', '2001:db8::1'],
    extendedKeyUsages: ['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1'],
  })
  const expired = await createTestCertificate({
    commonName: ALLOWED_CN,
    issuer: pki.intermediate,
    notBefore: new Date(Date.now() - 3 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  })
  const injectors = await createInjectors(pki, allowed)
  const headers = [
    xfccHeader(allowed),
    xfccHeader(allowedRsa, { style: 'aca' }),
    xfccHeader(denied),
    xfccHeader(rich, { by: ['spiffe://proxy.example/envoy'] }),
    xfccHeader(expired, { chain: false }),
  ]
  const standard: ClientCertMiddlewareOptions = { allow: { commonNames: [ALLOWED_CN] } }
  return {
    allowed,
    allowedRsa,
    denied,
    rich,
    expired,
    bases: [allowed, allowedRsa, denied, rich, expired, pki.intermediate, pki.root].map((c) =>
      c.der
    ),
    headers,
    allowedThumbprints: new Set([allowed, allowedRsa, rich].map((c) => c.thumbprint)),
    goodElements: [
      parseXfcc(headers[0]!)[0]!,
      parseXfcc(headers[1]!)[0]!,
      parseXfcc(headers[3]!)[0]!,
    ],
    injectors,
    apps: {
      standard: appWith(standard),
      standardFresh: appWith({ ...standard, cache: false }),
      big: appWith({ ...standard, maxHeaderBytes: BIG_HEADER_LIMIT, cache: false }),
    },
  }
}

interface Answer {
  status: number
  code: string
  body: Record<string, unknown>
}

/**
 * The request a server would hand the app: the lines as one header field (Headers.append each).
 * Built before the clock starts: a runtime's own Headers cost (Bun's append is slow for thousands
 * of megabyte-sized lines) is not certgate's.
 */
function requestWith(lines: readonly string[]): Request {
  const headers = new Headers()
  for (const line of lines) headers.append(HEADER, line)
  return new Request('http://localhost/api/cert-info', { headers })
}

/** Sends the request, and checks what every answer must satisfy. */
async function ask(
  ctx: FuzzContext,
  app: AppName,
  request: Request,
  fresh: boolean,
): Promise<Answer> {
  const hono = app === 'big' ? ctx.apps.big : fresh ? ctx.apps.standardFresh : ctx.apps.standard
  // A GET has no body to consume, so the same Request can be sent again when a case is re-timed.
  const res = await hono.request(request)
  const text = await res.text()
  if (res.status !== 200 && res.status !== 403) fail(`status ${res.status}: ${truncate(text, 300)}`)
  let body: Record<string, unknown>
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    return fail(`status ${res.status} with a body that is not JSON: ${truncate(text, 200)}`)
  }
  if (res.status === 200) {
    if (typeof body.common_name !== 'string' || body.common_name !== ALLOWED_CN) {
      fail(`200 for CN ${String(body.common_name)}`)
    }
    return { status: 200, code: '200', body }
  }
  if (res.headers.get('content-type') !== 'application/problem+json') {
    fail('403 without problem+json')
  }
  if (typeof body.code !== 'string' || !REFUSAL_CODES.has(body.code)) {
    fail(`403 with code ${String(body.code)}`)
  }
  if (body.status !== 403) fail(`403 whose body says status ${String(body.status)}`)
  if (body.code === 'ERR_CERT_NOT_ALLOWED' && body.detail === MASKED_INTERNAL_ERROR) {
    fail(
      'an internal error was masked as ERR_CERT_NOT_ALLOWED (verify.ts caught a non-CertgateError)',
    )
  }
  return { status: 403, code: body.code, body }
}

/** Header values are byte strings: \t, \x20-\x7e and \x80-\xff. CR, LF, NUL never reach an app. */
function toByteString(text: string): string {
  return text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '')
}

// ---------------------------------------------------------------------------------------------
// Property 3: the middleware on arbitrary header values

const byteChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constant('\t') },
)
const byteToken: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: byteChar },
  { weight: 2, arbitrary: xfccToken.map(toByteString) },
)

/** Splits a header into its pairs, each with the separator after it, respecting quotes. */
function splitPairs(header: string): Array<{ text: string; sep: string }> {
  const pairs: Array<{ text: string; sep: string }> = []
  let start = 0
  let quoted = false
  for (let i = 0; i < header.length; i++) {
    const c = header[i]
    if (quoted) {
      if (c === '\\') i++
      else if (c === '"') quoted = false
    } else if (c === '"') {
      quoted = true
    } else if (c === ';' || c === ',') {
      pairs.push({ text: header.slice(start, i), sep: c })
      start = i + 1
    }
  }
  pairs.push({ text: header.slice(start), sep: '' })
  return pairs
}

type PairOp =
  | { op: 'delete'; at: number }
  | { op: 'duplicate'; at: number; to: number }
  | { op: 'insert'; to: number; pair: string }
  | { op: 'borrow'; to: number; from: number; which: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'separator'; at: number; sep: string }
  | { op: 'key-case'; at: number; mask: number }
  | { op: 'splice'; at: number; offset: number; remove: number; insert: string }

function pairOpArbitrary(): fc.Arbitrary<PairOp> {
  const randomPair = fc
    .tuple(
      fc.oneof(anyCaseKey, fc.constantFrom('Foo', '')),
      fc.string({ unit: byteToken, maxLength: 20 }),
      fc.boolean(),
    )
    .map(([key, value, quote]) => `${key}=${quote ? `"${value}"` : value}`)
  return fc.oneof(
    fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), to: fc.nat() }),
    fc.record({ op: fc.constant('insert' as const), to: fc.nat(), pair: randomPair }),
    fc.record({
      op: fc.constant('borrow' as const),
      to: fc.nat(),
      from: fc.nat(),
      which: fc.nat(),
    }),
    fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
    fc.record({
      op: fc.constant('separator' as const),
      at: fc.nat(),
      sep: fc.constantFrom(';', ',', '', ' ; ', ';,', ',,', ';;'),
    }),
    fc.record({ op: fc.constant('key-case' as const), at: fc.nat(), mask: fc.nat() }),
    fc.record({
      op: fc.constant('splice' as const),
      at: fc.nat(),
      offset: fc.nat(),
      remove: fc.nat({ max: 8 }),
      insert: fc.string({ unit: byteToken, maxLength: 6 }),
    }),
  )
}

/** A real header with its pairs deleted, duplicated, borrowed from other headers, re-cased, … */
function mutateHeader(headers: readonly string[], base: number, ops: readonly PairOp[]): string {
  const pairs = splitPairs(headers[base % headers.length]!)
  for (const m of ops) {
    const n = pairs.length
    if (m.op === 'delete') {
      if (n > 1) pairs.splice(m.at % n, 1)
    } else if (m.op === 'duplicate') {
      pairs.splice(m.to % (n + 1), 0, { ...pairs[m.at % n]! })
    } else if (m.op === 'insert') {
      pairs.splice(m.to % (n + 1), 0, { text: m.pair, sep: ';' })
    } else if (m.op === 'borrow') {
      const other = splitPairs(headers[m.from % headers.length]!)
      pairs.splice(m.to % (n + 1), 0, { ...other[m.which % other.length]!, sep: ';' })
    } else if (m.op === 'swap') {
      const a = m.at % n
      const b = m.with % n
      const text = pairs[a]!.text
      pairs[a]!.text = pairs[b]!.text
      pairs[b]!.text = text
    } else if (m.op === 'separator') {
      pairs[m.at % n]!.sep = m.sep
    } else if (m.op === 'key-case') {
      const pair = pairs[m.at % n]!
      const eq = pair.text.indexOf('=')
      if (eq > 0) pair.text = withCase(pair.text.slice(0, eq), m.mask) + pair.text.slice(eq)
    } else {
      const pair = pairs[m.at % n]!
      const at = m.offset % (pair.text.length + 1)
      pair.text = pair.text.slice(0, at) + m.insert + pair.text.slice(at + m.remove)
    }
  }
  return pairs.map((p, i) =>
    p.text + (i === pairs.length - 1 ? p.sep.replace(/^[;,]$/, '') : p.sep)
  ).join('')
}

interface HeaderCase {
  kind: string
  app: AppName
  /** One header field, sent as this many lines (Headers.append). */
  lines: string[]
  /** The answer the case must get, when the generator knows it (`200` or a code). */
  expect?: string
}

function headerArbitrary(ctx: FuzzContext): fc.Arbitrary<HeaderCase> {
  const app = fc.constantFrom<AppName>('standard', 'standard', 'big')
  const good = fc.constantFrom(...ctx.headers)
  const one = (kind: string, value: fc.Arbitrary<string>): fc.Arbitrary<HeaderCase> =>
    fc.tuple(value, app).map(([v, a]) => ({ kind, app: a, lines: [toByteString(v)] }))

  const bytes = fc.string({ unit: byteToken, maxLength: 400, size: 'medium' })
  // 1 to 64 KiB: past the 16 KiB default limit, and through the parser with the big app.
  const huge = fc.oneof(
    repeated(fc.string({ unit: byteToken, maxLength: 32 }), 65_536),
    fc.tuple(
      good,
      fc.integer({ min: 1, max: 65_536 }),
      fc.constantFrom('By', 'URI', 'Foo'),
      fc.boolean(),
    ).map(
      ([header, size, key, left]) => {
        const padding = `${key}="${'x'.repeat(size)}"`
        return left ? `${padding},${header}` : `${header};${padding}`
      },
    ),
  )
  const deep = fc
    .tuple(
      fc.constantFrom('"', '\\', '\\"', '"\\', '\\\\', '""', '%', '%2', '=', ';', ','),
      fc.integer({ min: 1, max: 30_000 }),
      fc.constantFrom('', 'Subject=', 'Subject="', 'By="', 'Cert="', 'URI=', 'x="'),
      fc.constantFrom('', '"', '";URI=', ','),
      fc.option(good),
    )
    .map(([unit, times, prefix, suffix, header]) => {
      const value = prefix + unit.repeat(times) + suffix
      return header === null ? value : `${value},${header}`
    })
  const manyElements = fc
    .tuple(
      fc.constantFrom(
        'a=b,',
        'By=x;',
        'URI=;',
        'Hash=,',
        'a=b;,',
        'Subject="";',
        'DNS="",',
        ',',
        ';',
      ),
      fc.integer({ min: 1, max: 5000 }),
      fc.option(good),
    )
    .map(([unit, times, header]) => unit.repeat(times) + (header ?? ''))
  const mutated = fc
    .tuple(fc.nat(), fc.array(pairOpArbitrary(), { minLength: 1, maxLength: 6 }))
    .map(([base, ops]) => mutateHeader(ctx.headers, base, ops))
  const manyLines = fc
    .tuple(
      fc.array(fc.oneof(bytes, good, mutated, fc.constant(''), fc.constant('a=b')), {
        minLength: 1,
        maxLength: 8,
      }),
      fc.integer({ min: 2, max: 3000 }),
      fc.option(good),
      app,
    )
    .map(([pool, count, last, a]) => {
      const lines = Array.from({ length: count }, (_, i) => toByteString(pool[i % pool.length]!))
      if (last !== null) lines.push(last)
      return { kind: 'many-lines', app: a, lines }
    })
  // What a proxy may really send, each with a known answer: a Chain of 1 to 12 certificates
  // (maxChainLength is 8), the Hash in upper case or with colons between bytes.
  const chainAndHash = fc
    .tuple(fc.integer({ min: 1, max: 12 }), fc.constantFrom('lower', 'upper', 'colons'), app)
    .map(([length, form, a]): HeaderCase => {
      const thumbprint = ctx.allowed.thumbprint
      const hash = form === 'upper'
        ? thumbprint
        : form === 'lower'
        ? thumbprint.toLowerCase()
        : thumbprint.match(/../g)!.join(':')
      const chain = Array.from({ length }, () => ctx.allowed)
      const header = xfccHeader(ctx.allowed, { chain, hash })
      return {
        kind: 'chain-and-hash',
        app: a,
        lines: [header],
        expect: length > 8 ? 'ERR_CHAIN_TOO_LONG' : '200',
      }
    })
  return fc.oneof(
    { weight: 4, arbitrary: one('bytes', bytes) },
    { weight: 1, arbitrary: one('huge', huge) },
    { weight: 1, arbitrary: one('deep-quoting', deep) },
    { weight: 1, arbitrary: one('many-elements', manyElements) },
    { weight: 6, arbitrary: one('mutated-envoy', mutated) },
    { weight: 1, arbitrary: one('real', good) },
    { weight: 1, arbitrary: manyLines },
    { weight: 1, arbitrary: chainAndHash },
  )
}

interface HeaderInput {
  kind: string
  app: AppName
  request: Request
  expect: string | undefined
  /** Whether the elements agree with their certificates, when the header parses. */
  agreement: ReturnType<typeof elementAgreement> | null
}

function headerInput(c: HeaderCase): HeaderInput {
  const request = requestWith(c.lines)
  // Worked out here, untimed: the oracle reads every certificate, which is not the library's cost.
  const combined = request.headers.get(HEADER)
  let agreement: HeaderInput['agreement'] = null
  try {
    if (combined !== null) agreement = elementAgreement(combined, parseXfcc(combined))
  } catch (error) {
    if (!(error instanceof CertgateError)) throw error
  }
  return { kind: c.kind, app: c.app, request, expect: c.expect, agreement }
}

/**
 * What the middleware must answer, from the header text alone, up to the point of picking the
 * rightmost element: then whether that element is one that must authenticate.
 */
async function checkHeaderCase(ctx: FuzzContext, c: HeaderInput, fresh: boolean): Promise<Outcome> {
  const answer = await ask(ctx, c.app, c.request, fresh)
  const combined = c.request.headers.get(HEADER)
  const limit = c.app === 'big' ? BIG_HEADER_LIMIT : DEFAULT_HEADER_LIMIT
  const expect = (code: string): void => {
    if (answer.code !== code) fail(`expected ${code}, got ${answer.code}`)
  }
  // Blank means HTTP whitespace only: JS trim() would also eat NBSP (0xA0), a header byte that
  // is no whitespace to Headers or to the parser.
  if (combined === null || /^[\t ]*$/.test(combined)) {
    expect('ERR_CERT_MISSING')
  } else if (combined.length > limit) {
    expect('ERR_HEADER_TOO_LARGE')
  } else if (c.expect !== undefined) {
    expect(c.expect)
  } else {
    let elements: XfccElement[] | null = null
    try {
      elements = parseXfcc(combined)
    } catch (error) {
      expect((error as CertgateError).code)
    }
    if (elements !== null) {
      const rightmost = elements[elements.length - 1]!
      const agreement = c.agreement
      // An element whose URI/DNS values are not its certificate's SANs refuses the whole header.
      if (agreement === 'inconsistent') expect('ERR_HEADER_INCONSISTENT')
      // A real allowed element on the right must get in, whatever agreeing elements stand left.
      if (agreement === 'consistent' && ctx.goodElements.some((good) => isDeepStrictEqual(good, rightmost))) {
        expect('200')
      }
      if (answer.status === 200) {
        if (agreement !== 'consistent') fail('200 for a header whose elements disagree with their certificates')
        // And only the rightmost element's certificate may: a client's own element never does.
        const thumbprint = answer.body.thumbprint
        if (typeof thumbprint !== 'string') fail('200 without a thumbprint')
        // A Hash pins the element to a certificate made here. Without one, a mutation inside the
        // signature leaves a certificate no check without trust can tell apart: an allowed CN.
        if (rightmost.hash !== undefined && !ctx.allowedThumbprints.has(thumbprint)) {
          fail('200 for an unknown certificate')
        }
        const leaf = rightmost.cert ?? rightmost.chain
        const der = leaf === undefined
          ? undefined
          : decodeCertificates(leaf, { maxCertificates: 8 })[0]
        if (der === undefined || (await digestHex('SHA-256', der)) !== thumbprint) {
          fail("200 for a certificate that is not the rightmost element's")
        }
      }
    }
  }
  return { code: answer.status === 200 ? '200' : `403 ${answer.code}`, detail: c.kind }
}

// ---------------------------------------------------------------------------------------------
// Property 4: certificate decoding on mutated DER

/** A TLV tree, lenient enough to hold real certificates and whatever the mutations make. */
interface DerNode {
  tag: number
  /** Children of a constructed TLV, or of an OCTET/BIT STRING that wraps DER; else null. */
  children: DerNode[] | null
  content: Uint8Array
  /** The wrapped DER sits after a 0x00 unused-bits octet (a BIT STRING). */
  bits: boolean
  /** Extra SEQUENCE layers around this node when encoded (a depth bomb). */
  wrap: number
}

function readTlvHeader(
  bytes: Uint8Array,
  at: number,
  end: number,
): { tag: number; start: number; end: number } {
  if (end - at < 2) throw new RangeError('truncated')
  const tag = bytes[at]!
  let length = bytes[at + 1]!
  let p = at + 2
  if (length >= 0x80) {
    const count = length & 0x7f
    if (count === 0 || count > 3 || end - p < count) throw new RangeError('bad length')
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + bytes[p++]!
  }
  if (length > end - p) throw new RangeError('overrun')
  return { tag, start: p, end: p + length }
}

function parseNodes(bytes: Uint8Array, at: number, end: number, depth: number): DerNode[] {
  if (depth > 32) throw new RangeError('deep')
  const nodes: DerNode[] = []
  while (at < end) {
    const h = readTlvHeader(bytes, at, end)
    const content = bytes.subarray(h.start, h.end)
    let children: DerNode[] | null = null
    let bits = false
    if ((h.tag & 0x20) !== 0) {
      children = parseNodes(bytes, h.start, h.end, depth + 1)
    } else if (h.tag === 0x04 || (h.tag === 0x03 && content[0] === 0)) {
      // Extension values wrap DER in an OCTET STRING, RSA keys in a BIT STRING: descend when
      // the content is exactly one TLV, so mutations reach inside with lengths kept right.
      bits = h.tag === 0x03
      try {
        const inner = parseNodes(bytes, h.start + (bits ? 1 : 0), h.end, depth + 1)
        if (inner.length === 1) children = inner
        else bits = false
      } catch {
        bits = false
      }
    }
    nodes.push({ tag: h.tag, children, content, bits, wrap: 0 })
    at = h.end
  }
  return nodes
}

/** `'3080'` or `'30 80'` → [0x30, 0x80]. */
function hex(text: string): number[] {
  return (text.replace(/ /g, '').match(/../g) ?? []).map((h) => parseInt(h, 16))
}

function lengthOctets(length: number): number[] {
  if (length < 0x80) return [length]
  const out: number[] = []
  for (let l = length; l > 0; l = Math.floor(l / 256)) out.unshift(l % 256)
  return [0x80 | out.length, ...out]
}

/** `inner` inside `depth` SEQUENCEs, written in one pass (a naive nest is quadratic). */
function nest(inner: Uint8Array, depth: number): Uint8Array {
  const headers: number[][] = []
  let length = inner.length
  for (let i = 0; i < depth; i++) {
    const header = [0x30, ...lengthOctets(length)]
    headers.push(header)
    length += header.length
  }
  const out = new Uint8Array(length)
  let at = 0
  for (let i = headers.length - 1; i >= 0; i--) {
    out.set(headers[i]!, at)
    at += headers[i]!.length
  }
  out.set(inner, at)
  return out
}

/** DER of a tree; a node shared by many parents (a duplicate op) is encoded once. */
function encodeNode(node: DerNode, memo = new Map<DerNode, Uint8Array>()): Uint8Array {
  const known = memo.get(node)
  if (known !== undefined) return known
  let content = node.content
  if (node.children !== null) {
    const parts = node.children.map((child) => encodeNode(child, memo))
    content = concat(node.bits ? [Uint8Array.of(0), ...parts] : parts)
  }
  const tlv = concat([Uint8Array.of(node.tag, ...lengthOctets(content.length)), content])
  const encoded = node.wrap > 0 ? nest(tlv, node.wrap) : tlv
  memo.set(node, encoded)
  return encoded
}

function cloneNode(node: DerNode): DerNode {
  return { ...node, children: node.children === null ? null : node.children.map(cloneNode) }
}

/** Every node once with its parent's child list (null for the root), breadth first. */
function flatten(root: DerNode): Array<{ node: DerNode; siblings: DerNode[] | null }> {
  const out: Array<{ node: DerNode; siblings: DerNode[] | null }> = [{ node: root, siblings: null }]
  const seen = new Set<DerNode>([root])
  for (let i = 0; i < out.length; i++) {
    const children = out[i]!.node.children
    if (children === null) continue
    for (const child of children) {
      if (seen.has(child)) continue
      seen.add(child)
      out.push({ node: child, siblings: children })
    }
  }
  return out
}

type TreeOp =
  | { op: 'delete'; at: number }
  | { op: 'duplicate'; at: number; times: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'retag'; at: number; tag: number }
  | { op: 'content'; at: number; bytes: Uint8Array }
  | { op: 'graft'; at: number; base: number; pick: number }
  | { op: 'wrap'; at: number; depth: number }
  | { op: 'empty'; at: number }

type ByteOp =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'repeat-range'; at: number; count: number }
  | { op: 'length'; which: number; octets: readonly number[] }
  | {
    op: 'concat'
    with: 'self' | 'other' | 'random'
    base: number
    bytes: Uint8Array
    before: boolean
  }
  | { op: 'bomb'; depth: number; indefinite: boolean; at: number }

interface DerCase {
  base: number
  tree: TreeOp[]
  bytes: ByteOp[]
}

// Tags that mean something to an X.509 reader, tried far more often than a random byte.
const INTERESTING_TAGS = [
  ...hex('00 01 02 03 04 05 06 0c 13 14 16 17 18 1c 1e 1f 23 24 2c 30 31 80 81 82 86 87 88 a0'),
  ...hex('a1 a3 a4 ff'),
]

// Contents that hit a decoder's edge: invalid UTF-8, surrogates in BMP/Universal strings,
// non-minimal INTEGERs and OIDs, bad times, huge OID arcs, bad unused-bit counts, …
const INTERESTING_CONTENTS: Uint8Array[] = [
  ...'- 00 ff 007f ff80 80 c080 eda080 f4908080 d800 dc00d800 0000d800 00010000 2a8001 2a86 0800'
    .split(' ')
    .map((h) => Uint8Array.from(hex(h === '-' ? '' : h))),
  ...'ffffffffffffffff7f 0780 01 30800000'.split(' ').map((h) => Uint8Array.from(hex(h))),
  ...'991231235960Z 20240230000000Z 491231235959Z 19491231235959Z 250101000000+0100 2501010000Z'
    .split(' ')
    .map((time) => new TextEncoder().encode(time)),
]

function derCaseArbitrary(baseCount: number): fc.Arbitrary<DerCase> {
  const someBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
    fc.constantFrom(...INTERESTING_CONTENTS),
    fc.uint8Array({ maxLength: 16 }),
    // Long contents by repetition: generating thousands of bytes one by one is slow on Deno.
    fc
      .tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.integer({ min: 100, max: 4000 }))
      .map(([unit, length]) => new Uint8Array(length).map((_, i) => unit[i % unit.length]!)),
  )
  const depth = fc.oneof(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 20_000 }))
  const anyByte = fc.integer({ min: 0, max: 255 })
  const tag = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...INTERESTING_TAGS) },
    { weight: 1, arbitrary: anyByte },
  )
  const treeOp: fc.Arbitrary<TreeOp> = fc.oneof(
    fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
    // Up to 1,100 copies: past the reader's 1,024 SAN entries, 64 name attributes and extensions.
    fc.record({
      op: fc.constant('duplicate' as const),
      at: fc.nat(),
      times: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 1100 })),
    }),
    fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
    fc.record({ op: fc.constant('retag' as const), at: fc.nat(), tag }),
    fc.record({ op: fc.constant('content' as const), at: fc.nat(), bytes: someBytes }),
    fc.record({ op: fc.constant('graft' as const), at: fc.nat(), base: fc.nat(), pick: fc.nat() }),
    fc.record({ op: fc.constant('wrap' as const), at: fc.nat(), depth }),
    fc.record({ op: fc.constant('empty' as const), at: fc.nat() }),
  )
  const lengthOctetChoices: fc.Arbitrary<readonly number[]> = fc.oneof(
    // Zero, indefinite, non-minimal, huge (up to 2^64), and more length octets than allowed.
    fc.constantFrom(
      ...['00', '01', '7f', '80', '81 7f', '81 ff', '82 00 80', '82 ff ff', '83 01 00 00'].map(hex),
      ...['84 7f ff ff ff', '84 ff ff ff ff', '85 01 00 00 00 00', 'ff'].map(hex),
      hex('88 ff ff ff ff ff ff ff ff'),
    ),
    fc.array(anyByte, { minLength: 1, maxLength: 5 }),
  )
  const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('flip' as const),
        at: fc.nat(),
        bit: fc.integer({ min: 0, max: 7 }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: someBytes }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('delete' as const),
        at: fc.nat(),
        count: fc.integer({ min: 1, max: 64 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('repeat-range' as const),
        at: fc.nat(),
        count: fc.integer({ min: 1, max: 256 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('length' as const),
        which: fc.nat(),
        octets: lengthOctetChoices,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('concat' as const),
        with: fc.constantFrom('self' as const, 'other' as const, 'random' as const),
        base: fc.nat(),
        bytes: someBytes,
        before: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('bomb' as const),
        depth,
        indefinite: fc.boolean(),
        at: fc.nat(),
      }),
    },
  )
  return fc.record({
    base: fc.nat({ max: baseCount - 1 }),
    tree: fc.array(treeOp, { maxLength: 3 }),
    // Half the cases keep the framing the tree encoder wrote, so the reader gets past it to the
    // fields; byte-level damage is what the other half is for.
    bytes: fc.oneof(fc.constant<ByteOp[]>([]), fc.array(byteOp, { minLength: 1, maxLength: 3 })),
  })
}

/** Offsets of the length octets of every TLV header a lenient walk finds, with their count. */
function lengthPositions(bytes: Uint8Array): Array<{ at: number; count: number }> {
  const out: Array<{ at: number; count: number }> = []
  const stack: Array<[number, number]> = [[0, bytes.length]]
  while (stack.length > 0 && out.length < 4096) {
    let [at, end] = stack.pop()!
    while (at < end) {
      let h
      try {
        h = readTlvHeader(bytes, at, end)
      } catch {
        break
      }
      out.push({ at: at + 1, count: h.start - at - 1 })
      if ((h.tag & 0x20) !== 0) stack.push([h.start, h.end])
      at = h.end
    }
  }
  return out
}

function applyTreeOps(roots: readonly DerNode[], base: number, ops: readonly TreeOp[]): Uint8Array {
  const root = cloneNode(roots[base]!)
  for (const m of ops) {
    const nodes = flatten(root)
    const target = nodes[m.at % nodes.length]!
    const { node, siblings } = target
    const index = siblings === null ? -1 : siblings.indexOf(node)
    if (m.op === 'delete') {
      if (siblings !== null) siblings.splice(index, 1)
    } else if (m.op === 'duplicate') {
      // One clone, shared by every copy: a later op on it changes them all, still a mutation.
      const copy = cloneNode(node)
      if (siblings !== null) {
        siblings.splice(
          index,
          0,
          ...Array.from({ length: m.times }, () => copy),
        )
      }
    } else if (m.op === 'swap') {
      if (siblings !== null) {
        const other = m.with % siblings.length
        siblings[index] = siblings[other]!
        siblings[other] = node
      }
    } else if (m.op === 'retag') {
      node.tag = m.tag
      // A primitive tag now carries its children's bytes as content; a constructed one parses it.
      if ((m.tag & 0x20) === 0 && node.children !== null && !(m.tag === 0x04 || m.tag === 0x03)) {
        node.content = encodeNode({ ...node, tag: 0x30, wrap: 0 }).subarray(2)
        node.children = null
      }
    } else if (m.op === 'content') {
      node.children = null
      node.bits = false
      node.content = m.bytes
    } else if (m.op === 'graft') {
      const donor = flatten(roots[m.base % roots.length]!)
      const graft = cloneNode(donor[m.pick % donor.length]!.node)
      if (siblings !== null) siblings[index] = graft
    } else if (m.op === 'wrap') {
      node.wrap += m.depth
    } else {
      node.children = node.children === null ? null : []
      node.content = new Uint8Array(0)
    }
  }
  return encodeNode(root)
}

function applyByteOps(
  input: Uint8Array,
  ders: readonly Uint8Array[],
  ops: readonly ByteOp[],
): Uint8Array {
  let bytes = input
  for (const m of ops) {
    const n = bytes.length
    if (m.op === 'flip') {
      if (n === 0) continue
      bytes = bytes.slice()
      bytes[m.at % n]! ^= 1 << m.bit
    } else if (m.op === 'truncate') {
      bytes = bytes.slice(0, m.at % (n + 1))
    } else if (m.op === 'insert') {
      const at = m.at % (n + 1)
      bytes = concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)])
    } else if (m.op === 'delete') {
      const at = m.at % (n + 1)
      bytes = concat([bytes.subarray(0, at), bytes.subarray(at + m.count)])
    } else if (m.op === 'repeat-range') {
      const at = m.at % (n + 1)
      const range = bytes.subarray(at, at + m.count)
      bytes = concat([bytes.subarray(0, at), range, range, bytes.subarray(at)])
    } else if (m.op === 'length') {
      const positions = lengthPositions(bytes)
      if (positions.length === 0) continue
      const p = positions[m.which % positions.length]!
      bytes = concat([
        bytes.subarray(0, p.at),
        Uint8Array.from(m.octets),
        bytes.subarray(p.at + p.count),
      ])
    } else if (m.op === 'concat') {
      const other = m.with === 'self'
        ? bytes
        : m.with === 'other'
        ? ders[m.base % ders.length]!
        : m.bytes
      bytes = concat(m.before ? [other, bytes] : [bytes, other])
    } else {
      const at = m.at % (n + 1)
      const bomb = m.indefinite
        ? concat([
          new Uint8Array(2 * m.depth).map((_, i) => (i % 2 === 0 ? 0x30 : 0x80)),
          new Uint8Array(2 * m.depth),
        ])
        : nest(Uint8Array.of(0x05, 0x00), m.depth)
      bytes = concat([bytes.subarray(0, at), bomb, bytes.subarray(at)])
    }
  }
  return bytes
}

function mutateDer(roots: readonly DerNode[], ders: readonly Uint8Array[], c: DerCase): Uint8Array {
  const tree = c.tree.length === 0 ? ders[c.base]! : applyTreeOps(roots, c.base, c.tree)
  return applyByteOps(tree, ders, c.bytes)
}

function isValidDate(value: unknown): boolean {
  return value instanceof Date && !Number.isNaN(value.getTime())
}

/** Fields the reader returned are typed as documented. */
function assertFieldsShape(f: ReturnType<typeof readCertificateFields>): void {
  for (const key of ['serialNumber', 'subject', 'issuer'] as const) {
    if (typeof f[key] !== 'string') fail(`${key} not a string`)
  }
  // A negative serial reads as `-` and its magnitude; two's complement is never shown.
  if (!/^-?[0-9A-F]+$/.test(f.serialNumber)) fail('serialNumber not uppercase hex')
  if (f.commonName !== null && typeof f.commonName !== 'string') fail('commonName')
  if (!isValidDate(f.notBefore) || !isValidDate(f.notAfter)) fail('an invalid Date')
  for (const key of ['dnsNames', 'uris', 'emails', 'ips'] as const) {
    if (!isStringArray(f[key])) fail(`${key}`)
  }
  if (f.extendedKeyUsages !== null && !isStringArray(f.extendedKeyUsages)) fail('extendedKeyUsages')
  if (f.keyUsage !== null && !Number.isInteger(f.keyUsage)) fail('keyUsage')
}

/**
 * readCertificateFields returns typed fields or throws ERR_CERT_MALFORMED, and readSignatureParts
 * agrees on which.
 */
function checkDerBytes(bytes: Uint8Array): Outcome {
  let fields: ReturnType<typeof readCertificateFields> | null = null
  let refusal: CertgateError | null = null
  try {
    fields = readCertificateFields(bytes)
  } catch (error) {
    if (!(error instanceof CertgateError)) {
      fail(`threw a non-CertgateError: ${describeError(error)}`)
    }
    if (error.code !== 'ERR_CERT_MALFORMED') fail(`threw ${error.code}`)
    refusal = error
  }
  // The signature-parts reader is documented to validate exactly as the fields reader does.
  let partsOk = true
  try {
    readSignatureParts(bytes)
  } catch (error) {
    if (!(error instanceof CertgateError) || error.code !== 'ERR_CERT_MALFORMED') {
      fail(`readSignatureParts threw ${describeError(error)}`)
    }
    partsOk = false
  }
  if (partsOk !== (fields !== null)) fail('readCertificateFields and readSignatureParts disagree')
  if (fields !== null) {
    assertFieldsShape(fields)
    return { code: 'ok', detail: 'ok' }
  }
  return { code: refusal!.code, detail: `${refusal!.code}: ${String(refusal!.cause)}` }
}

// ---------------------------------------------------------------------------------------------
// Property 4b: a mutated certificate inside a well-formed Envoy header, through the middleware

interface DerHeaderCase {
  der: DerCase
  hash: 'real' | 'none' | 'wrong'
  form: 'envoy' | 'aca' | 'bare-base64'
  app: AppName
}

interface DerHeaderInput {
  der: Uint8Array
  header: string
  request: Request
  hash: DerHeaderCase['hash']
  app: AppName
  label: string
  /** The header carries a SAN key (a bare `URI=`), so the certificate's URI SANs are compared. */
  sanKeys: boolean
}

async function derHeaderInput(
  ctx: FuzzContext,
  roots: readonly DerNode[],
  c: DerHeaderCase,
): Promise<DerHeaderInput> {
  const der = mutateDer(roots, ctx.bases, c.der)
  const thumbprint = await digestHex('SHA-256', der)
  const hash = c.hash === 'real'
    ? `Hash=${thumbprint.toLowerCase()};`
    : c.hash === 'wrong'
    ? `Hash=${'0'.repeat(64)};`
    : ''
  const pem = encodePem(der)
  const cert = encodeXfccPem(
    c.form === 'bare-base64' ? pem.replace(/-----[^-]*-----|\n/g, '') : pem,
  )
  const header = c.form === 'aca'
    ? `${hash}Cert="${cert}";`
    : `By=spiffe://proxy.example/envoy;${hash}Cert="${cert}";Subject="CN=${ALLOWED_CN}";URI=`
  return {
    der,
    header,
    request: requestWith([header]),
    hash: c.hash,
    app: c.app,
    label: `${c.hash} hash, ${c.form}`,
    sanKeys: c.form !== 'aca',
  }
}

/** With a matching Hash (or none), the answer follows from the DER alone. */
async function checkDerHeader(
  ctx: FuzzContext,
  c: DerHeaderInput,
  fresh: boolean,
): Promise<Outcome> {
  const answer = await ask(ctx, c.app, c.request, fresh)
  const limit = c.app === 'big' ? BIG_HEADER_LIMIT : DEFAULT_HEADER_LIMIT
  if (c.header.length > limit) {
    if (answer.code !== 'ERR_HEADER_TOO_LARGE') {
      fail(`expected ERR_HEADER_TOO_LARGE, got ${answer.code}`)
    }
  } else if (c.hash !== 'wrong' && c.der.length > 0) {
    let fields: ReturnType<typeof readCertificateFields> | null = null
    try {
      fields = readCertificateFields(c.der)
    } catch {
      // Refused: the middleware must refuse it the same way.
    }
    if (fields === null) {
      if (answer.code !== 'ERR_CERT_MALFORMED') fail(`unparseable DER answered ${answer.code}`)
    } else if (c.sanKeys && fields.uris.length > 0) {
      // The element says `URI=` (no URI SAN): a certificate with one disagrees with it.
      if (answer.code !== 'ERR_HEADER_INCONSISTENT') fail(`URI= for a URI SAN answered ${answer.code}`)
    } else {
      const now = Date.now()
      const eku = fields.extendedKeyUsages
      const admissible = fields.commonName === ALLOWED_CN && fields.notBefore.getTime() <= now &&
        now <= fields.notAfter.getTime() && fields.basicConstraints?.ca !== true &&
        (eku === null || eku.includes(CLIENT_AUTH)) && countNameAttributes(fields.subject, 'CN') === 1
      if (admissible && answer.code !== '200') {
        fail(`a parseable, allowed, current certificate answered ${answer.code}`)
      }
      if (!admissible && answer.code === '200') fail('200 for a certificate that should be refused')
    }
  } else if (answer.status === 200) {
    fail(c.hash === 'wrong' ? '200 with a mismatched Hash' : '200 for an empty certificate')
  }
  return { code: answer.status === 200 ? '200' : `403 ${answer.code}`, detail: c.label }
}

// ---------------------------------------------------------------------------------------------
// Property 5: element consistency. A proxy copies URI and DNS SANs into its element raw, so a
// SAN holding `,` ends the element and the rest reads as an element the client wrote. Every
// element's URI/DNS values must be its certificate's SANs (as sets, for each key it carries);
// SAN values without any Hash or certificate are the tail of an element cut short.

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

/** A certificate whose SAN, copied in raw, appends an element naming the allowed leaf. */
export interface Injector {
  cert: TestCertificate
  /** The SAN kind that carries the injection. */
  san: 'uri' | 'dns'
}

/** Injectors with the payload in each place a SAN can hold it. Their own CN is not allowed. */
async function createInjectors(pki: TestPki, victim: TestCertificate): Promise<Injector[]> {
  const hash = victim.thumbprint.toLowerCase()
  const cert = encodeXfccPem(victim.pem)
  const chain = encodeXfccPem(victim.pem + victim.issuer!.pem)
  const quoted = `,Hash=${hash};Cert="${cert}"`
  const bare = `,By=spiffe://x;Hash=${hash};Cert=${cert};Chain="${chain}"`
  const pairFirst = `;x=y,Hash=${hash};Cert="${cert}"`
  const issue = (uris: string[], dnsNames: string[]): Promise<TestCertificate> =>
    pki.issue({ commonName: 'intruder.example', uris, dnsNames })
  return [
    { cert: await issue([`spiffe://x${quoted}`], []), san: 'uri' },
    { cert: await issue(['spiffe://x/one', `spiffe://x/two${bare}`], ['intruder.example']), san: 'uri' },
    { cert: await issue([quoted], []), san: 'uri' },
    { cert: await issue([], ['intruder.example', `b.example${quoted}`]), san: 'dns' },
    { cert: await issue([], [`b.example${pairFirst}`]), san: 'dns' },
  ]
}

/** ASCII-only lowercase, as the parser matches keys (no Unicode case mapping). */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase())
}

/** Per element, whether it carries a URI or DNS key, read from the raw text with splitPairs. */
function sanKeysOf(header: string): Array<{ uri: boolean; dns: boolean }> {
  const out: Array<{ uri: boolean; dns: boolean }> = []
  let keys = { uri: false, dns: false }
  let nonEmpty = false
  for (const { text, sep } of splitPairs(header)) {
    const eq = text.indexOf('=')
    const key = eq === -1 ? '' : asciiLower(text.slice(0, eq).replace(/^[\s]+|[\s]+$/g, ''))
    if (text.trim() !== '') nonEmpty = true
    if (key === 'uri') keys.uri = true
    if (key === 'dns') keys.dns = true
    if (sep !== ';') {
      if (nonEmpty) out.push(keys)
      keys = { uri: false, dns: false }
      nonEmpty = false
    }
  }
  return out
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a)
  const right = new Set(b)
  return left.size === right.size && [...left].every((v) => right.has(v))
}

/**
 * The rule, computed apart from certgate's check: `inconsistent` when every certificate decodes
 * and some element disagrees with its own, `unknown` when a certificate does not decode (a
 * refusal for that may come first), else `consistent`.
 */
function elementAgreement(header: string, elements: readonly XfccElement[]): 'consistent' | 'inconsistent' | 'unknown' {
  const keys = sanKeysOf(header)
  if (keys.length !== elements.length) fail(`the oracle found ${keys.length} elements, parseXfcc ${elements.length}`)
  let agreement: 'consistent' | 'inconsistent' = 'consistent'
  for (let i = 0; i < elements.length; i++) {
    const e = elements[i]!
    const leaf = e.cert ?? e.chain
    if (leaf === undefined) {
      if (e.hash === undefined && e.uri.length + e.dns.length > 0) agreement = 'inconsistent'
      continue
    }
    const { uri, dns } = keys[i]!
    let fields: ReturnType<typeof readCertificateFields> | null = null
    try {
      const der = decodeCertificates(leaf, { maxCertificates: 8 })[0]!
      // Without a SAN key there is nothing to compare, so the DER is not read.
      if (uri || dns) fields = readCertificateFields(der)
    } catch {
      return 'unknown'
    }
    if (fields !== null && ((uri && !sameSet(e.uri, fields.uris)) || (dns && !sameSet(e.dns, fields.dnsNames)))) {
      agreement = 'inconsistent'
    }
  }
  return agreement
}

type SanListMode = 'absent' | 'bare' | 'exact' | 'shuffled' | 'missing-one' | 'extra' | 'replaced'

interface ConsistencyCase {
  kind: 'injection' | 'lists'
  /** Which injector, or (lists) which certificate: the allowed leaf or the rich one. */
  pick: number
  details: { by: boolean; subject: boolean; chain: boolean; uri: boolean; dns: boolean }
  /** Lists: how the URI and DNS values relate to the certificate's SANs. */
  uriMode: SanListMode
  dnsMode: SanListMode
  /** A value that is no SAN of either certificate, `,` `;` `=` and empty included. */
  stranger: string
  order: number
  /** A client-written (consistent) element on the left. */
  before: number | null
  app: AppName
}

const consistencyArbitrary: fc.Arbitrary<ConsistencyCase> = (() => {
  const mode = fc.constantFrom<SanListMode>('absent', 'bare', 'exact', 'shuffled', 'missing-one', 'extra', 'replaced')
  return fc.record({
    kind: fc.constantFrom('injection' as const, 'lists' as const),
    pick: fc.nat(),
    details: fc.record({ by: fc.boolean(), subject: fc.boolean(), chain: fc.boolean(), uri: fc.boolean(), dns: fc.boolean() }),
    uriMode: mode,
    dnsMode: mode,
    stranger: fc.constantFrom('spiffe://contoso.com/ns/api/sa/admin', 'urn:x,y;z=1', '', 'b.example', 'A.EXAMPLE'),
    order: fc.nat(),
    before: fc.option(fc.nat()),
    app: fc.constantFrom<AppName>('standard', 'big'),
  })
})()

/** The SAN values a `lists` case writes for one kind, or null for no key at all. */
function sanList(sans: readonly string[], mode: SanListMode, stranger: string, order: number): string[] | null {
  const rotated = sans.length === 0 ? [] : [...sans.slice(order % sans.length), ...sans.slice(0, order % sans.length)]
  switch (mode) {
    case 'absent':
      return null
    case 'bare':
      return []
    case 'exact':
      return [...sans]
    case 'shuffled':
      return [...rotated, ...rotated.slice(0, 1)]
    case 'missing-one':
      return rotated.slice(1)
    case 'extra':
      return [...rotated, stranger]
    case 'replaced':
      return [stranger]
  }
}

interface ConsistencyInput {
  request: Request
  app: AppName
  expect: string
  label: string
}

function consistencyInput(ctx: FuzzContext, c: ConsistencyCase): ConsistencyInput {
  const { by, subject, chain } = c.details
  const left = c.before === null ? undefined : ctx.headers[c.before % ctx.headers.length]
  const base = { by: by ? ['spiffe://proxy.example/envoy'] : [], subject: subject ? undefined : false as const, chain, before: left }
  if (c.kind === 'injection') {
    const injector = ctx.injectors[c.pick % ctx.injectors.length]!
    const header = xfccHeader(injector.cert, {
      ...base,
      uris: c.details.uri ? 'auto' : [],
      dns: c.details.dns ? 'auto' : [],
      rawSans: true,
    })
    // With the injecting SAN's detail off, the proxy never writes it: the intruder's own element.
    const injected = injector.san === 'uri' ? c.details.uri : c.details.dns
    const expect = injected ? 'ERR_HEADER_INCONSISTENT' : 'ERR_CERT_NOT_ALLOWED'
    return { request: requestWith([header]), app: c.app, expect, label: `injection ${injector.san}${injected ? '' : ' (detail off)'}` }
  }
  const cert = c.pick % 2 === 0 ? ctx.allowed : ctx.rich
  const fields = readCertificateFields(cert.der)
  const uri = sanList(fields.uris, c.uriMode, c.stranger, c.order)
  const dns = sanList(fields.dnsNames, c.dnsMode, c.stranger, c.order)
  const pairs = [xfccHeader(cert, { ...base, uris: [], dns: [] })]
  if (uri !== null && uri.length === 0) pairs.push('URI=')
  if (dns !== null && dns.length === 0) pairs.push('DNS=')
  if ((uri?.length ?? 0) + (dns?.length ?? 0) > 0) pairs.push(formatXfcc([{ by: [], uri: uri ?? [], dns: dns ?? [] }]))
  const agrees = (values: string[] | null, sans: readonly string[]): boolean => values === null || sameSet(values, sans)
  const consistent = agrees(uri, fields.uris) && agrees(dns, fields.dnsNames)
  return {
    request: requestWith([pairs.join(';')]),
    app: c.app,
    expect: consistent ? '200' : 'ERR_HEADER_INCONSISTENT',
    label: `lists uri ${c.uriMode}, dns ${c.dnsMode}`,
  }
}

async function checkConsistencyCase(ctx: FuzzContext, c: ConsistencyInput, fresh: boolean): Promise<Outcome> {
  const answer = await ask(ctx, c.app, c.request, fresh)
  if (answer.code !== c.expect) fail(`${c.label}: expected ${c.expect}, got ${answer.code}`)
  return { code: answer.status === 200 ? '200' : `403 ${answer.code}`, detail: c.label }
}

// ---------------------------------------------------------------------------------------------
// The list

export const PROPERTY_NAMES = [
  'xfcc-parse',
  'xfcc-round-trip',
  'middleware-headers',
  'der-mutations',
  'der-middleware',
  'element-consistency',
] as const

/** Builds every property over one shared context (PKI, headers, apps). */
export async function createProperties(ctx?: FuzzContext): Promise<FuzzProperty[]> {
  const context = ctx ?? (await createFuzzContext())
  const roots = context.bases.map((der) => parseNodes(der, 0, der.length, 0)[0]!)
  const pems = [context.allowed.pem, context.rich.pem + context.allowedRsa.pem]
  const derCase = derCaseArbitrary(context.bases.length)
  return [
    property({
      name: 'xfcc-parse',
      title: '1. parseXfcc on arbitrary strings: well-formed elements or an XFCC CertgateError',
      arbitrary: parseInput,
      check: (header) => checkParse(header),
      async: false,
      boundMs: 100,
      weight: 400,
      testRuns: 3000,
    }),
    property({
      name: 'xfcc-round-trip',
      title: '2. parseXfcc(formatXfcc(x)) deep-equals x (also re-spaced, re-cased, shuffled)',
      arbitrary: roundTripArbitrary(pems),
      check: (c) => checkRoundTrip(c),
      async: false,
      boundMs: 100,
      weight: 300,
      testRuns: 1500,
    }),
    property({
      name: 'middleware-headers',
      title:
        '3. clientCert on arbitrary header values: 200 or 403 problem+json, as the header says',
      arbitrary: headerArbitrary(context),
      prepare: headerInput,
      check: (input: HeaderInput, fresh) => checkHeaderCase(context, input, fresh),
      async: true,
      boundMs: 250,
      weight: 100,
      testRuns: 300,
    }),
    property({
      name: 'der-mutations',
      title: '4. readCertificateFields on mutated DER: fields or ERR_CERT_MALFORMED',
      arbitrary: derCase,
      prepare: (c) => mutateDer(roots, context.bases, c),
      check: (bytes) => checkDerBytes(bytes),
      async: false,
      boundMs: 50,
      weight: 200,
      testRuns: 2000,
    }),
    property({
      name: 'der-middleware',
      title:
        '4b. clientCert, mutated certificate in a well-formed header: 200 or 403 as the DER says',
      arbitrary: fc.record({
        der: derCase,
        hash: fc.constantFrom('real' as const, 'real' as const, 'none' as const, 'wrong' as const),
        form: fc.constantFrom('envoy' as const, 'aca' as const, 'bare-base64' as const),
        app: fc.constantFrom<AppName>('standard', 'big'),
      }),
      prepare: (c) => derHeaderInput(context, roots, c),
      check: (input: DerHeaderInput, fresh) => checkDerHeader(context, input, fresh),
      async: true,
      boundMs: 250,
      weight: 50,
      testRuns: 300,
    }),
    property({
      name: 'element-consistency',
      title:
        '5. clientCert, SANs injected as Envoy copies them and URI/DNS lists against the SANs: refused as inconsistent, or 200',
      arbitrary: consistencyArbitrary,
      prepare: (c) => consistencyInput(context, c),
      check: (input: ConsistencyInput, fresh) => checkConsistencyCase(context, input, fresh),
      async: true,
      boundMs: 250,
      weight: 50,
      testRuns: 300,
    }),
  ]
}
