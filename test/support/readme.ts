/**
 * README.md's fenced code blocks, with the section each sits under and its line, so tests can
 * compile and run the examples users copy.
 * @module
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './package.ts'

export interface ReadmeBlock {
  /** The nearest `##`/`###` heading above the block. */
  heading: string
  /** The info string's first word (`ts`, `sh`, …). */
  lang: string
  code: string
  /** 1-based line of the opening fence. */
  line: number
}

export function readmeBlocks(text = readFileSync(join(ROOT, 'README.md'), 'utf8')): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = []
  const lines = text.split('\n')
  let heading = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const title = /^#{2,3}\s+(.*)$/.exec(line)
    if (title) heading = title[1]!.trim()
    const fence = /^```(\S*)/.exec(line)
    if (!fence) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!)
    blocks.push({ heading, lang: fence[1]!, code: body.join('\n') + '\n', line: start + 1 })
  }
  return blocks
}

/** The one TypeScript block under a heading. */
export function readmeBlock(heading: string): ReadmeBlock {
  const found = readmeBlocks().filter((block) => block.heading === heading && block.lang === 'ts')
  if (found.length !== 1) throw new Error(`README: expected one ts block under "${heading}", found ${found.length}`)
  return found[0]!
}
