/**
 * The service's `TRUSTED_CA_CERTS` and `CRL_FILES`: each value is PEM text or a file's path,
 * read with the reader the entry point passes in (this module never touches a file system), then
 * handed to the library's own readers, so the service accepts exactly what the library does.
 * @module
 */

import * as v from 'valibot'
import { type CaBundle, decodeCrls, readCaBundle, trustFileContents } from '../index.ts'
import { compactList, MUST_BE_STRING, shown, splitList } from './config-vars.ts'

/**
 * Reads a whole file, synchronously (configuration is read once, before the server starts):
 * Node's and Bun's `readFileSync`, Deno's `Deno.readFileSync`. Throws when it cannot.
 */
export type ReadFile = (path: string) => Uint8Array

const PEM_BEGIN = '-----BEGIN'

/** Whether `TRUSTED_CA_CERTS` holds the PEM text itself rather than a file's path. */
function isInlinePem(value: string): boolean {
  return value.trimStart().startsWith(PEM_BEGIN)
}

/** A value resolved, or why it could not be. */
type Resolved<T> = { ok: true; value: T } | { ok: false; problem: string }

function problem<T>(why: string): Resolved<T> {
  return { ok: false, problem: why }
}

/** Reads a file through the caller's reader; the failure names the file and the error's code. */
function readWith(readFile: ReadFile | undefined, path: string): Resolved<Uint8Array> {
  if (readFile === undefined) {
    return problem(`cannot read ${shown(path)}: no file reader was given`)
  }
  try {
    return { ok: true, value: readFile(path) }
  } catch (error) {
    const code = (error as { code?: unknown; name?: unknown } | null)?.code
    const name = (error as { name?: unknown } | null)?.name
    const reason = typeof code === 'string' ? code : typeof name === 'string' ? name : 'error'
    return problem(`cannot read ${shown(path)} (${reason})`)
  }
}

/** `TRUSTED_CA_CERTS`: PEM text itself (it starts with `-----BEGIN`), or a file's path. */
function resolveCaBundle(value: string, readFile: ReadFile | undefined): Resolved<CaBundle> {
  if (value.trim() === '') {
    return problem('must not be empty (unset it to turn chain validation off)')
  }
  let input: string | Uint8Array
  if (isInlinePem(value)) {
    // A PEM pasted into a single-line setting (an ACA env var) often carries a literal `\n`.
    input = value.replace(/\\r\\n|\\n|\\r/g, '\n')
  } else {
    const read = readWith(readFile, value)
    if (!read.ok) return read
    input = trustFileContents(read.value)
  }
  try {
    return { ok: true, value: readCaBundle(input) }
  } catch (error) {
    if (!(error instanceof TypeError)) throw error
    // An issue line is a clause: the library's sentence without its full stop.
    return problem(error.message.replace(/\.$/, ''))
  }
}

/** One `CRL_FILES` entry: a file of PEM (`X509 CRL` blocks) or DER, every CRL in it parsed. */
function resolveCrlFile(path: string, readFile: ReadFile | undefined): Resolved<Uint8Array[]> {
  if (path === '') return { ok: true, value: [] }
  const read = readWith(readFile, path)
  if (!read.ok) return read
  try {
    return { ok: true, value: decodeCrls(trustFileContents(read.value)) }
  } catch {
    return problem(`${shown(path)} holds no CRL (PEM X509 CRL blocks, or DER)`)
  }
}

/** A string variable resolved by `resolve`, its problem reported as the variable's issue. */
function resolvedVar<T>(resolve: (value: string) => Resolved<T>): v.GenericSchema<string, T> {
  return v.pipe(
    v.string(MUST_BE_STRING),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const resolved = resolve(dataset.value)
      if (resolved.ok) return resolved.value
      addIssue({ message: resolved.problem })
      return NEVER
    })
  )
}

/** The files behind the trust variables, which the service watches for changes. */
export interface TrustFiles {
  /** `TRUSTED_CA_CERTS` when it names a file; null when it is PEM text or unset. */
  caBundle: string | null
  /** Every `CRL_FILES` path. */
  crls: string[]
}

/** The paths `TRUSTED_CA_CERTS` and `CRL_FILES` name (read only once they validated). */
export function trustFiles(env: Record<string, string | undefined>): TrustFiles {
  const bundle = env.TRUSTED_CA_CERTS
  const isPath = bundle !== undefined && !isInlinePem(bundle)
  return {
    caBundle: isPath ? bundle : null,
    crls: env.CRL_FILES === undefined ? [] : compactList(splitList(env.CRL_FILES)),
  }
}

/** Where the trust variables' files come from, and whether `TRUSTED_CA_CERTS` is set at all. */
export interface TrustVarOptions {
  readFile: ReadFile | undefined
  caBundleSet: boolean
}

/** `TRUSTED_CA_CERTS`, its file (when it names one) read with `readFile`. */
export function caBundleVar(
  options: TrustVarOptions
): v.GenericSchema<string | undefined, CaBundle | undefined> {
  const { readFile } = options
  return v.optional(resolvedVar((value) => resolveCaBundle(value, readFile)))
}

/**
 * `CRL_FILES`, each file read with `readFile`; without a CA bundle it is refused before any of
 * its files is read.
 */
export function crlFilesVar(
  options: TrustVarOptions
): v.GenericSchema<string | undefined, Uint8Array[]> {
  const { readFile, caBundleSet } = options
  return v.optional(
    v.pipe(
      v.string(MUST_BE_STRING),
      // A failed check stops the pipe before its transforms: no file is read for nothing.
      v.check(
        (value) => caBundleSet || compactList(splitList(value)).length === 0,
        'needs TRUSTED_CA_CERTS (revocation is checked on chains validated to your CAs)'
      ),
      v.transform(splitList),
      v.array(resolvedVar((path) => resolveCrlFile(path, readFile))),
      v.transform((files) => files.flat())
    ),
    ''
  )
}
