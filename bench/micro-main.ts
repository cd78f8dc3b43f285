/**
 * Runs the micro benchmarks in the current runtime and prints them as JSON (for bench/run.ts).
 * @module
 */
import { runMicro } from './micro.ts'

const argv: string[] = (globalThis as { process?: { argv: string[] } }).process?.argv ?? []
console.log(JSON.stringify(await runMicro({ smoke: argv.includes('--smoke') })))
