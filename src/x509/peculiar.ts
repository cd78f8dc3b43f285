/**
 * @peculiar/x509, loaded on demand for `ClientCertificate.x509()`: an optional peer dependency
 * (with reflect-metadata, the Reflect polyfill it needs while it loads) that nothing else in the
 * library uses.
 * @module
 */
import type * as Peculiar from '@peculiar/x509'

// Specifiers held in variables: bundlers then leave the import to run time instead of pulling
// ~250 KB into every bundle, or failing the build where the package is not installed.
const PECULIAR_X509 = '@peculiar/x509'
const REFLECT_METADATA = 'reflect-metadata'

let loading: Promise<typeof Peculiar> | undefined

/** Imports @peculiar/x509 once; rejects with an Error naming the packages to install. */
export function loadPeculiarX509(): Promise<typeof Peculiar> {
  loading ??= importPeculiar().catch((error: unknown) => {
    loading = undefined
    throw new Error(
      'ClientCertificate.x509() needs the optional packages @peculiar/x509 and reflect-metadata: ' +
        'npm install @peculiar/x509 reflect-metadata',
      { cause: error }
    )
  })
  return loading
}

async function importPeculiar(): Promise<typeof Peculiar> {
  // Must load first: @peculiar/x509 2.x checks for a Reflect polyfill while it loads.
  await import(/* webpackIgnore: true */ /* @vite-ignore */ REFLECT_METADATA)
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ PECULIAR_X509)) as typeof Peculiar
}
