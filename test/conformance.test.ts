/**
 * x509-limbo through certgate's verification path: no case outside the Web-PKI server profile may
 * be accepted where the suite expects a refusal. Skips (and says so) when the suite file is absent.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { DEFAULT_SUITE, runConformance } from '../scripts/conformance.ts'

const present = existsSync(DEFAULT_SUITE)

describe('x509-limbo conformance', () => {
  it(
    'accepts no case the suite refuses, outside the Web-PKI server profile',
    { skip: present ? false : `x509-limbo suite not found at ${DEFAULT_SUITE}` },
    async () => {
      const outcomes = await runConformance(DEFAULT_SUITE)
      assert.ok(outcomes.length >= 200, `only ${outcomes.length} cases read`)
      const falseAccepts = outcomes
        .filter((o) => !o.id.startsWith('webpki::') && o.expected === 'FAILURE' && o.actual === 'SUCCESS')
        .map((o) => o.id)
      assert.deepEqual(falseAccepts, [])
    }
  )
})
