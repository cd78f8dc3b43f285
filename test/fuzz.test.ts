// The fuzz properties on a short budget, so every `npm test` (Node, Bun and Deno)
// runs each one: a few thousand cases in all, a few seconds per runtime. `npm run fuzz` runs the
// same properties (test/fuzz/properties.ts) a million times over. FUZZ_SEED=n replays a run.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import process from 'node:process'
import {
  createProperties,
  type FuzzProperty,
  PROPERTY_NAMES,
  runProperty,
  watchUnhandledRejections,
} from './fuzz/properties.ts'

const seed = process.env.FUZZ_SEED === undefined
  ? Date.now() % 2 ** 31
  : Number(process.env.FUZZ_SEED)

describe('fuzz (short budget)', () => {
  let properties: FuzzProperty[] = []
  let rejections: ReturnType<typeof watchUnhandledRejections>

  before(async () => {
    rejections = watchUnhandledRejections()
    properties = await createProperties()
  })

  after(() => rejections.stop())

  PROPERTY_NAMES.forEach((name, index) => {
    it(name, async () => {
      const prop = properties.find((p) => p.name === name)!
      // A seed per property, derived as scripts/fuzz.ts derives them: either replays the other.
      const stats = await runProperty(prop, {
        numRuns: prop.testRuns,
        seed: seed + index,
        mode: 'assert',
      })
      assert.equal(
        stats.failed,
        0,
        `${prop.title}\nseed ${seed} (FUZZ_SEED=${seed} replays)\n${stats.failures.join('\n')}\n${
          stats.report ?? ''
        }`,
      )
      assert.equal(stats.runs, prop.testRuns)
      assert.deepEqual(rejections.reasons, [], 'an unhandled rejection')
    })
  })
})
