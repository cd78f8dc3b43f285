#!/usr/bin/env node
// Runs the whole test suite: type check, then the same test files under every supported Node
// (this one, and 22, 24 and 26 from tools/node-versions), Bun and Deno. Each runner's own output
// is shown as it comes; the last line totals them for machines: `N passed, N failed`.
// `node scripts/test.mjs node bun` runs only those steps (`node` means every Node version).
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

const only = process.argv.slice(2)
const bin = (name) => join('node_modules', '.bin', name)

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return testFiles(path)
    return entry.name.endsWith('.test.ts') ? [path] : []
  })
}

const files = testFiles('test').sort()

// The other Node versions live in their own package: their `node` binaries must not shadow the
// one npm runs scripts with. Installed on first use (CI's clean checkout included).
const NODE_VERSIONS_DIR = join('tools', 'node-versions')
const OTHER_NODES = ['node22', 'node24', 'node26']

function ensureOtherNodes() {
  if (OTHER_NODES.every((name) => existsSync(nodeBinary(name)))) return
  console.log(`\n=== installing Node ${OTHER_NODES.map((n) => n.slice(4)).join(', ')} into ${NODE_VERSIONS_DIR}`)
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: NODE_VERSIONS_DIR, stdio: 'inherit' })
}

function nodeBinary(name) {
  return join(NODE_VERSIONS_DIR, 'node_modules', name, 'bin', 'node')
}

const nodeCount = (out) => ({ passed: last(out, /^ℹ pass (\d+)/gm), failed: last(out, /^ℹ fail (\d+)/gm) })
const nodeArgs = ['--import', 'tsx', '--test', '--test-reporter=spec', ...files]

const steps = [
  { name: 'typecheck', cmd: bin('tsc'), args: ['-p', '.'], count: () => null },
  { name: `node${process.versions.node.split('.')[0]}`, group: 'node', cmd: process.execPath, args: nodeArgs, count: nodeCount },
  ...OTHER_NODES.map((name) => ({ name, group: 'node', cmd: nodeBinary(name), args: nodeArgs, count: nodeCount, other: true })),
  {
    name: 'bun',
    cmd: bin('bun'),
    args: ['test', ...files.map((f) => `./${f}`)],
    count: (out) => ({ passed: last(out, /^ *(\d+) pass$/gm), failed: last(out, /^ *(\d+) fail$/gm) }),
  },
  {
    name: 'deno',
    cmd: bin('deno'),
    args: ['test', '-A', ...files],
    env: { NO_COLOR: '1' },
    // Deno counts each describe() as one test with steps; count the steps, as the others do.
    count: (out) => {
      const m = /^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/m.exec(out)
      if (!m) return { passed: 0, failed: 1 }
      return { passed: Number(m[2] ?? m[1]), failed: Number(m[4] ?? m[3]) }
    },
  },
].filter((step) => only.length === 0 || only.includes(step.name) || only.includes(step.group))

if (steps.some((step) => step.other)) ensureOtherNodes()

function last(text, pattern) {
  const all = [...text.matchAll(pattern)]
  return all.length ? Number(all[all.length - 1][1]) : 0
}

function run(step) {
  return new Promise((resolve) => {
    console.log(`\n=== ${step.name}: ${[step.cmd, ...step.args].join(' ').slice(0, 160)}`)
    const child = spawn(step.cmd, step.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...step.env },
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      process.stdout.write(d)
    })
    child.stderr.on('data', (d) => {
      out += d
      process.stderr.write(d)
    })
    child.on('error', (error) => resolve({ code: 1, out: String(error) }))
    child.on('close', (code) => resolve({ code: code ?? 1, out }))
  })
}

const summary = []
let passed = 0
let failed = 0
for (const step of steps) {
  const { code, out } = await run(step)
  const counts = step.count(out)
  if (counts === null) {
    summary.push(`${step.name}: ${code === 0 ? 'ok' : 'FAILED'}`)
    if (code !== 0) failed++
    continue
  }
  // A runner that exits non-zero without counting a failure still fails the run.
  const stepFailed = counts.failed + (code !== 0 && counts.failed === 0 ? 1 : 0)
  passed += counts.passed
  failed += stepFailed
  summary.push(`${step.name}: ${counts.passed} passed, ${stepFailed} failed`)
}
console.log(`\n=== summary\n${summary.join('\n')}`)
console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed === 0 && passed > 0 ? 0 : 1
