#!/usr/bin/env node
// `npm start`: runs the reference service as built in dist/ (`npm ci` builds it through `prepare`;
// `npm run build` after changing src/). It never compiles: starts side by side would race on
// dist/, and each would pay a full type check.
import { existsSync } from 'node:fs'

const entry = new URL('../dist/service/main.js', import.meta.url)
if (!existsSync(entry)) {
  console.error('certgate: dist/service/main.js is missing; run `npm run build` first.')
  process.exit(1)
}
await import(entry.href)
