/**
 * Candidate paths from a leaf to a configured root: a bounded depth-first search over issuers
 * matched by subject name key and, when both sides name one, by key identifier. Each call gives
 * the next path not tried yet that avoids every edge whose signature failed, so the caller can
 * check one path, exclude what failed, and ask again; the search's steps are capped over all calls.
 * @module
 */
import { type IssuerLookup, type PathCert } from './store.ts'
import { equalBytes } from '../bytes.ts'

const MAX_SEARCH_STEPS = 256

/** Options for {@link PathCandidates}. */
export interface PathCandidatesOptions {
  /** Most certificates above the leaf, root included; self-issued intermediates do not count. */
  maxDepth: number
}

/** The candidate paths of one leaf, leaf first, root last. */
export class PathCandidates {
  readonly #leaf: PathCert
  readonly #lookup: IssuerLookup
  readonly #maxDepth: number
  readonly #bad = new Set<string>()
  readonly #tried = new Set<string>()
  #steps = 0
  #depthLimited = false

  constructor(leaf: PathCert, lookup: IssuerLookup, options: PathCandidatesOptions) {
    this.#leaf = leaf
    this.#lookup = lookup
    this.#maxDepth = options.maxDepth
  }

  /** How many paths were marked tried. */
  get triedCount(): number {
    return this.#tried.size
  }

  /** True when some path was cut short by `maxDepth`. */
  get depthLimited(): boolean {
    return this.#depthLimited
  }

  /** The next untried path that uses no excluded edge, or null when there is none left. */
  next(): PathCert[] | null {
    return this.#search(this.#leaf, [this.#leaf])
  }

  /** Never again offers a path with `parent` directly above `child` (its signature failed). */
  exclude(child: PathCert, parent: PathCert): void {
    this.#bad.add(edgeKey(child, parent))
  }

  /** Never again offers this path. */
  markTried(path: readonly PathCert[]): void {
    this.#tried.add(pathKey(path))
  }

  #search(node: PathCert, path: PathCert[]): PathCert[] | null {
    if (++this.#steps > MAX_SEARCH_STEPS) return null
    const aki = node.parsed.fields.authorityKeyIdentifier
    for (const parent of this.#lookup(node.issuerKey)) {
      if (path.includes(parent) || equalBytes(parent.der, this.#leaf.der)) continue
      const ski = parent.parsed.fields.subjectKeyIdentifier
      if (aki !== null && ski !== null && aki !== ski) continue
      if (this.#bad.has(edgeKey(node, parent))) continue
      path.push(parent)
      if (parent.isRoot) {
        if (!this.#tried.has(pathKey(path))) return path.slice()
      } else if (countedDepth(path) >= this.#maxDepth) {
        this.#depthLimited = true
      } else {
        const found = this.#search(parent, path)
        if (found !== null) return found
      }
      path.pop()
    }
    return null
  }
}

/**
 * Certificates above the leaf, leaving out self-issued ones (a CA's certificate for its own new
 * key, subject = issuer), which add no authority to the path.
 */
function countedDepth(path: readonly PathCert[]): number {
  let depth = 0
  for (let i = 1; i < path.length; i++) if (path[i]!.subjectKey !== path[i]!.issuerKey) depth++
  return depth
}

function edgeKey(child: PathCert, parent: PathCert): string {
  return `${child.id}>${parent.id}`
}

function pathKey(path: readonly PathCert[]): string {
  return path.map((node) => node.id).join(',')
}
