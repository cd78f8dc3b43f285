/**
 * Watching trust files: CA bundles, roots, intermediates and CRLs are re-read every few seconds
 * and, when their bytes changed, given to the verifier's `update`. Polling and comparing bytes
 * sees both ways a file changes: replaced by a rename (how Kubernetes and Azure Container Apps
 * update a secret volume, by swapping a symlink, which file-change events miss) and overwritten
 * in place. The file reader is the caller's, so this module runs wherever Web APIs do.
 *
 * Torn writes: a file overwritten in place can be read half-written, and a PEM bundle cut
 * between two certificates still parses (with fewer CAs). So new bytes are used only once two
 * consecutive polls read them the same, and only when every file then parses completely; a
 * change takes effect within two intervals. The first poll runs at once and takes the files as
 * they are as the material the verifier already holds (build the verifier from the same files).
 *
 * A file that cannot be read or does not parse changes nothing: all the previous material stays,
 * the problem is reported once (until it changes), and the next poll tries again.
 * @module
 */
import { systemClock } from './crl-fetcher.ts'
import { crlIssuer, crlWarningAt, readTrustFile, type TrustFileKind, type TrustFileParts } from './trust-files.ts'
import type { TrustMaterial } from './material.ts'
import type { TrustVerifier } from './verifier.ts'
import type { CertificateList } from '../x509/crl.ts'
import { equalBytes } from '../bytes.ts'

/** What to watch, how often, and whom to tell. */
export interface WatchTrustFilesOptions {
  /** CA bundle files: their CAs are split into roots and intermediates as `readCaBundle` does. */
  bundles?: string[]
  /** Files of trust anchors (every certificate in them a root). */
  roots?: string[]
  /** Files of intermediate CAs. */
  intermediates?: string[]
  /** Files of CRLs (PEM `X509 CRL` blocks, or one DER CRL). */
  crls?: string[]
  /**
   * Reads a whole file (Node: `fs.promises.readFile`, Deno: `Deno.readFile`, Bun:
   * `(p) => Bun.file(p).bytes()`). A file holding `-----BEGIN` is read as PEM text, else as DER.
   */
  readFile: (path: string) => Uint8Array | Promise<Uint8Array>
  /** How often to poll. Default 5000 ms; a change takes effect within two polls. */
  intervalMs?: number
  /** After the verifier took new material: its version and the files that changed. */
  onReload?: (event: { version: number; files: string[] }) => void
  /**
   * A file that cannot be read, does not parse, or was refused by the verifier; the previous
   * material stays. Called once per problem until it changes. Default: one line on console.error.
   */
  onError?: (error: Error, path: string) => void
  /**
   * A CRL of a watched file is about to pass its nextUpdate (or has), after which requests it
   * covers are refused (ERR_CRL_INVALID) unless `staleCrl: 'ignore'`. Called once per CRL content.
   */
  onCrlExpiring?: (event: { path: string; issuer: string; nextUpdate: Date }) => void
  /**
   * How long before a CRL's nextUpdate to call onCrlExpiring. Default: a quarter of the CRL's
   * lifetime (thisUpdate to nextUpdate), at most 24 h.
   */
  crlWarningMs?: number
  /** The clock for the CRL warning. Default Date.now. */
  now?: () => number
}

/** A running watch. */
export interface TrustFilesWatcher {
  /** Polls now (after any poll under way); true when the verifier took new material. */
  check(): Promise<boolean>
  /** Stops polling. Idempotent. */
  close(): void
}

/** One watched file: what the verifier holds of it, and what the last poll saw. */
interface WatchedFile {
  readonly path: string
  readonly kind: TrustFileKind
  /** The bytes the verifier's material holds, as parsed; null while unknown. */
  applied: { readonly bytes: Uint8Array; readonly parts: TrustFileParts } | null
  /**
   * True until the first poll: what it reads and parses is the baseline, taken as what the
   * verifier holds. A file unreadable then gets its first good bytes applied as a change.
   */
  baseline: boolean
  /** New bytes the last poll read: used once the next poll reads the same. */
  pending: Uint8Array | null
  /** The problem last reported, so a file that stays broken is reported once. */
  reported: string | null
}

/** A file whose new bytes are ready to go into the material. */
interface Changed {
  readonly file: WatchedFile
  readonly bytes: Uint8Array
  readonly parts: TrustFileParts
}

type Settings = Required<Pick<WatchTrustFilesOptions, 'readFile' | 'intervalMs' | 'onError' | 'now'>> &
  Pick<WatchTrustFilesOptions, 'onReload' | 'onCrlExpiring' | 'crlWarningMs'>

const DEFAULT_INTERVAL_MS = 5000
const KINDS: readonly TrustFileKind[] = ['bundles', 'roots', 'intermediates', 'crls']

/**
 * Watches trust files and updates `verifier` when they change (see the module comment for when a
 * change is used). Bad options throw TypeError. The timer does not keep the process alive;
 * `close()` stops it.
 */
export function watchTrustFiles(verifier: TrustVerifier, options: WatchTrustFilesOptions): TrustFilesWatcher {
  if (typeof verifier?.update !== 'function') {
    throw new TypeError('watchTrustFiles needs a verifier made by createTrustVerifier.')
  }
  const settings = watchSettings(options)
  const files = watchedFiles(options)
  const warned = new WeakSet<CertificateList>()
  let closed = false
  let queue: Promise<boolean> = Promise.resolve(false)
  let polling = false
  let timer: unknown = null
  const check = (): Promise<boolean> => {
    queue = queue.then(async () => {
      if (closed) return false
      polling = true
      try {
        return await poll(verifier, files, settings, () => closed)
      } catch (error) {
        // A bug, never a crash: reported, and the next poll tries again.
        report(settings, files[0]!, error, `poll:${String(error)}`)
        return false
      } finally {
        polling = false
        warnExpiring(files, settings, warned)
      }
    })
    return queue
  }
  const schedule = (): void => {
    timer = systemClock.setTimer(() => {
      // A poll still running (a slow reader) is not queued behind: this tick is skipped.
      if (!polling) void check()
      if (!closed) schedule()
    }, settings.intervalMs)
  }
  void check()
  schedule()
  return Object.freeze({
    check,
    close: () => {
      closed = true
      if (timer !== null) systemClock.clearTimer(timer)
      timer = null
    },
  })
}

/**
 * One poll: read every file, find those whose new bytes read the same twice and parse, and give
 * the verifier the material they make. True when it took it.
 */
async function poll(
  verifier: TrustVerifier,
  files: readonly WatchedFile[],
  settings: Settings,
  isClosed: () => boolean
): Promise<boolean> {
  const reads = await Promise.all(files.map((file) => readOnce(file, settings)))
  const changed: Changed[] = []
  files.forEach((file, i) => {
    const bytes = reads[i]
    const baseline = file.baseline
    file.baseline = false
    if (bytes === null || bytes === undefined) return
    const ready = settle(file, bytes, baseline, settings)
    if (ready !== null) changed.push(ready)
  })
  if (changed.length === 0 || isClosed()) return false
  const material = materialOf(files, changed)
  if (material === null) return false
  try {
    verifier.update(material)
  } catch (error) {
    for (const { file } of changed) report(settings, file, error, `update:${String(error)}`)
    return false
  }
  for (const { file, bytes, parts } of changed) {
    file.applied = { bytes, parts }
    file.pending = null
    file.reported = null
  }
  const event = { version: verifier.version, files: changed.map(({ file }) => file.path) }
  contained(() => settings.onReload?.(event))
  return true
}

/** A file's bytes, or null (reported) when it cannot be read. */
async function readOnce(file: WatchedFile, settings: Settings): Promise<Uint8Array | null> {
  try {
    const bytes: unknown = await settings.readFile(file.path)
    if (!(bytes instanceof Uint8Array)) throw new TypeError('readFile did not return a Uint8Array')
    return bytes
  } catch (error) {
    report(settings, file, error, `read:${String(error)}`)
    return null
  }
}

/**
 * What a poll makes of a file's bytes: null when nothing is to change (the same as applied, seen
 * for the first time, not parsable (reported), or the baseline), else the parsed change.
 */
function settle(file: WatchedFile, bytes: Uint8Array, baseline: boolean, settings: Settings): Changed | null {
  const { applied } = file
  if (applied !== null && equalBytes(applied.bytes, bytes)) {
    file.pending = null
    file.reported = null
    return null
  }
  // A baseline, or bytes that read the same as on the last poll: whole, as far as polling can tell.
  const stable = baseline || (file.pending !== null && equalBytes(file.pending, bytes))
  file.pending = bytes
  if (!stable) return null
  let parts: TrustFileParts
  try {
    parts = readTrustFile(file.kind, bytes)
  } catch (error) {
    report(settings, file, error, `parse:${String(error)}`)
    return null
  }
  if (baseline) {
    file.applied = { bytes, parts }
    file.pending = null
    file.reported = null
    return null
  }
  return { file, bytes, parts }
}

/**
 * The update the changed files make, each field from every file of its kinds (the unchanged ones
 * as applied); null while a file it needs was never read.
 */
function materialOf(files: readonly WatchedFile[], changed: readonly Changed[]): TrustMaterial | null {
  const partsOf = (file: WatchedFile): TrustFileParts | null =>
    changed.find((c) => c.file === file)?.parts ?? file.applied?.parts ?? null
  const needCas = changed.some(({ file }) => file.kind !== 'crls')
  const needCrls = changed.some(({ file }) => file.kind === 'crls')
  const material: TrustMaterial = {}
  const used = files.filter(({ kind }) => (kind === 'crls' ? needCrls : needCas))
  const parts = used.map(partsOf)
  if (parts.some((p) => p === null)) return null
  const all = parts as TrustFileParts[]
  if (needCas) {
    material.roots = all.flatMap((p) => p.roots)
    material.intermediates = all.flatMap((p) => p.intermediates)
  }
  if (needCrls) material.crls = all.flatMap((p) => p.crls.map((crl) => crl.der))
  return material
}

/** Calls onCrlExpiring once for each applied CRL within its warning time of nextUpdate. */
function warnExpiring(files: readonly WatchedFile[], settings: Settings, warned: WeakSet<CertificateList>): void {
  const onCrlExpiring = settings.onCrlExpiring
  if (onCrlExpiring === undefined) return
  const now = settings.now()
  for (const file of files) {
    for (const crl of file.applied?.parts.crls ?? []) {
      const at = crlWarningAt(crl, settings.crlWarningMs)
      if (at === null || at > now || warned.has(crl)) continue
      warned.add(crl)
      const nextUpdate = new Date(crl.nextUpdate!)
      contained(() => onCrlExpiring({ path: file.path, issuer: crlIssuer(crl), nextUpdate }))
    }
  }
}

/** Tells onError of a file's problem, unless it is the one last reported for that file. */
function report(settings: Settings, file: WatchedFile, error: unknown, key: string): void {
  if (file.reported === key) return
  file.reported = key
  const reported = error instanceof Error ? error : new Error(String(error))
  contained(() => settings.onError(reported, file.path))
}

/** Runs a caller's callback: what it throws is logged, never let out into the timer. */
function contained(run: () => void): void {
  try {
    run()
  } catch (error) {
    console.error(`certgate: a trust watcher callback threw: ${oneLine(error)}`)
  }
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ')
}

/** The default onError: one line, naming the file. */
function logError(error: Error, path: string): void {
  console.error(`certgate: trust file ${JSON.stringify(path)} not used, previous material kept: ${oneLine(error)}`)
}

function watchedFiles(options: WatchTrustFilesOptions): WatchedFile[] {
  const files = KINDS.flatMap((kind) => {
    const paths: unknown = options[kind] ?? []
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && p !== '')) {
      throw new TypeError(`watchTrustFiles: ${kind} must be an array of file paths.`)
    }
    return paths.map(
      (path: string): WatchedFile => ({ path, kind, applied: null, baseline: true, pending: null, reported: null })
    )
  })
  if (files.length === 0) throw new TypeError('watchTrustFiles: no file to watch.')
  return files
}

function watchSettings(options: WatchTrustFilesOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('watchTrustFiles: options must be an object.')
  }
  const { readFile, intervalMs = DEFAULT_INTERVAL_MS, onError = logError, now = Date.now } = options
  const { onReload, onCrlExpiring, crlWarningMs } = options
  if (typeof readFile !== 'function') throw new TypeError('watchTrustFiles: readFile must be a function.')
  if (typeof intervalMs !== 'number' || !(intervalMs >= 10) || !Number.isFinite(intervalMs)) {
    throw new TypeError('watchTrustFiles: intervalMs must be a number of at least 10.')
  }
  if (crlWarningMs !== undefined && !(typeof crlWarningMs === 'number' && crlWarningMs >= 0)) {
    throw new TypeError('watchTrustFiles: crlWarningMs must be a non-negative number.')
  }
  for (const [name, fn] of Object.entries({ onError, now, onReload, onCrlExpiring })) {
    if (fn !== undefined && typeof fn !== 'function') {
      throw new TypeError(`watchTrustFiles: ${name} must be a function.`)
    }
  }
  return { readFile, intervalMs, onError, now, onReload, onCrlExpiring, crlWarningMs }
}
