/**
 * The layout's rules, checked on the source text: layers import only downward, the core uses Web
 * APIs only, no file in src/ passes 400 lines and no function 80.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return name.endsWith('.ts') ? [relative(SRC, path).split('\\').join('/')] : []
  })
}

const FILES = sourceFiles(SRC).sort()
const text = (file: string): string => readFileSync(join(SRC, file), 'utf8')

/** A file's layer: the folder under src/, or the top-level module's own name. */
function layerOf(file: string): string {
  const slash = file.indexOf('/')
  return slash === -1 ? file.replace(/\.ts$/, '') : file.slice(0, slash)
}

// What each layer may import (besides itself). The public entry points are index.ts, the
// adapters and the test kit; the CLI and the service use nothing else.
const PUBLIC = ['index', 'adapters', 'testing']
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  bytes: [],
  body: ['bytes'],
  xfcc: ['errors', 'bytes'],
  x509: ['errors', 'bytes'],
  proxy: ['errors', 'bytes'],
  trust: ['errors', 'bytes', 'body', 'x509', 'cache'],
  sources: ['errors', 'bytes', 'x509', 'xfcc'],
  cache: ['errors'],
  policy: ['errors', 'bytes', 'x509'],
  verify: ['errors', 'bytes', 'x509', 'xfcc', 'trust', 'proxy', 'sources', 'cache', 'policy'],
  index: ['errors', 'bytes', 'body', 'x509', 'xfcc', 'trust', 'proxy', 'sources', 'cache', 'policy', 'verify', 'adapters'],
  adapters: ['errors', 'verify', 'index'],
  testing: ['errors', 'bytes', 'x509', 'xfcc'],
  cli: PUBLIC,
  service: PUBLIC,
}

/** Relative imports of a file, with whether each imports types only. */
function importsOf(file: string): Array<{ target: string; typeOnly: boolean }> {
  const found: Array<{ target: string; typeOnly: boolean }> = []
  const pattern = /(?:^|\n)\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g
  for (const match of text(file).matchAll(pattern)) {
    const spec = match[3] ?? match[4]!
    const target = relative(SRC, resolve(SRC, dirname(file), spec)).split('\\').join('/')
    found.push({ target, typeOnly: match[2] !== undefined })
  }
  return found
}

describe('layout', () => {
  it('every file in src/ belongs to a known layer', () => {
    const unknown = FILES.filter((file) => MAY_IMPORT[layerOf(file)] === undefined)
    assert.deepEqual(unknown, [])
  })

  it('layers import only what sits below them (types excepted for adapters)', () => {
    const wrong: string[] = []
    for (const file of FILES) {
      const from = layerOf(file)
      for (const { target, typeOnly } of importsOf(file)) {
        const to = layerOf(target)
        if (to === from || MAY_IMPORT[from]?.includes(to)) continue
        if (typeOnly && from === 'adapters') continue
        wrong.push(`${file} → ${target}`)
      }
    }
    assert.deepEqual(wrong, [])
  })

  it('the pipeline imports the trust engine for its types only: only createTrustVerifier bundles it', () => {
    const reached = new Set<string>()
    const visit = (file: string): void => {
      if (reached.has(file)) return
      reached.add(file)
      for (const { target, typeOnly } of importsOf(file)) if (!typeOnly) visit(target)
    }
    for (const entry of ['verify.ts', 'adapters/fetch.ts', 'adapters/hono.ts']) visit(entry)
    assert.ok(reached.has('verify/options.ts'), [...reached].join(', '))
    assert.deepEqual([...reached].filter((file) => layerOf(file) === 'trust'), [])
  })

  it('the core uses Web APIs only: no node: imports, Buffer or process outside the entry points', () => {
    const runtimeSpecific = (file: string): boolean =>
      file === 'adapters/node.ts' ||
      file === 'adapters/node-tls.ts' ||
      file.startsWith('cli/') ||
      /^service\/(main|bun|deno|startup)\.ts$/.test(file)
    // x509/digest.ts probes globalThis.process.getBuiltinModule for node:crypto's synchronous
    // hash (no static node: import, WebCrypto where there is none): WebCrypto's async digest costs
    // ~25 µs per certificate on Node, Bun and Deno. It alone may name `process`, and only that.
    const probesProcess = (file: string): boolean => file === 'x509/digest.ts'
    const wrong = FILES.filter((file) => !runtimeSpecific(file)).filter((file) => {
      const code = text(file).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
      if (/from 'node:|import\(\s*'node:|\bBuffer\b/.test(code)) return true
      return !probesProcess(file) && /\bprocess\??\.[a-zA-Z]|\.process\b/.test(code)
    })
    assert.deepEqual(wrong, [])
  })

  it('no file in src/ is longer than 400 lines', () => {
    const long = FILES.map((file) => ({ file, lines: text(file).split('\n').length - 1 })).filter(
      ({ lines }) => lines > 400
    )
    assert.deepEqual(long, [])
  })

  it('no function in src/ is longer than 80 lines', () => {
    assert.deepEqual(FILES.flatMap(longFunctions), [])
  })
})

// A function starts on a line that declares one and ends on the first later line that closes a
// brace at the same indentation. The sources are formatted, so indentation is reliable.
const FUNCTION_START =
  /^(\s*)(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\b|(?:(?:private|public|protected|static|readonly|get|set|async)\s+)*[A-Za-z_$][\w$]*\s*(?:<[^>]*>)?\s*\([^)]*\)?[^=;]*\{\s*$|(?:const|let)\s+[\w$]+\s*(?::[^=]+)?=\s*(?:async\s*)?(?:function\b|(?:<[^>]*>)?\([^)]*\)?.*=>\s*\{?\s*$))/

function longFunctions(file: string): string[] {
  const lines = text(file).split('\n')
  const found: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const match = FUNCTION_START.exec(lines[i]!)
    if (match === null || /^\s*(if|for|while|switch|catch|return|else)\b/.test(lines[i]!)) continue
    const indent = match[1]!
    let end = i + 1
    while (end < lines.length && !new RegExp(`^${indent}[}\\])]`).test(lines[end]!)) end++
    const length = end - i + 1
    if (length > 80) found.push(`${file}:${i + 1} (${length} lines)`)
  }
  return found
}
