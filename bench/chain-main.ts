/**
 * Runs only the chain comparison (bench/chain.ts) in the current runtime and prints it as JSON:
 * `node --expose-gc --import tsx bench/chain-main.ts [--smoke]`, `bun`, `deno run -A --v8-flags=--expose-gc`.
 * @module
 */
import { compareChain } from './chain.ts'

const argv: string[] = (globalThis as { process?: { argv: string[] } }).process?.argv ?? []
const smoke = argv.includes('--smoke')
for (const algorithm of ['RSA-2048', 'P-256'] as const) {
  console.log(algorithm, JSON.stringify(await compareChain(algorithm, smoke ? 20 : 200, smoke ? 1 : 5)))
}
