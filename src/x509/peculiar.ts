/**
 * @peculiar/x509, loaded on demand for `ClientCertificate.x509()`: an optional peer dependency
 * (with reflect-metadata, the Reflect polyfill it needs while it loads) that nothing else in the
 * library uses.
 * @module
 */
import type * as Peculiar from '@peculiar/x509'

// Specifiers held in variables: bundlers then leave the import to run time instead of pulling
// ~250 KB into every bundle, or failing the build where the package is not installed. On Deno a
// bare name resolves only through the app's import map, so the npm: form is tried after it.
const PECULIAR_X509 = ['@peculiar/x509', 'npm:@peculiar/x509@^2.2.0'] as const
const REFLECT_METADATA = ['reflect-metadata', 'npm:reflect-metadata@^0.2.2'] as const

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
  await importFirst(REFLECT_METADATA)
  return (await importFirst(PECULIAR_X509)) as typeof Peculiar
}

async function importFirst([bare, npm]: readonly [string, string]): Promise<unknown> {
  try {
    return await import(/* webpackIgnore: true */ /* @vite-ignore */ bare)
  } catch (error) {
    if (!('Deno' in globalThis)) throw error
    return await import(/* webpackIgnore: true */ /* @vite-ignore */ npm)
  }
}
