/**
 * Benchmark fixtures: template client certificates (RSA-2048 and P-256) and as many distinct
 * certificates as a run needs, made by rewriting serial-number bytes of a template's DER. They are
 * not validly signed, which certgate's allowlist path does not check, and they cost nothing to
 * make, so "every request a new certificate" can run for millions of requests.
 * @module
 */
import { createHash } from 'node:crypto'
import { formatXfcc } from '../src/xfcc/format.ts'
import { encodePem } from '../src/x509/pem.ts'
import { createTestPki, type TestCertificate, type TestKeyAlgorithm } from '../src/testing/index.ts'

export const BENCH_CN = 'api-client.contoso.com'

export interface Template {
  cert: TestCertificate
  /** Where in the DER the serial's last four bytes sit. */
  serialTail: number
}

export async function makeTemplate(keyAlgorithm: TestKeyAlgorithm): Promise<Template> {
  const pki = await createTestPki({ keyAlgorithm })
  const cert = await pki.issue({ commonName: BENCH_CN, keyAlgorithm })
  const serial = hexBytes(cert.x509.serialNumber)
  const at = indexOf(cert.der, serial)
  if (at === -1) throw new Error('serial not found in DER')
  return { cert, serialTail: at + serial.length - 4 }
}

/** The template's DER with the serial's last four bytes set to `n`: a distinct certificate. */
export function variantDer(template: Template, n: number): Uint8Array {
  const der = template.cert.der.slice()
  new DataView(der.buffer).setUint32(template.serialTail, n >>> 0)
  return der
}

/** The XFCC value Envoy would send for a DER certificate. */
export function envoyHeader(der: Uint8Array, subject: string): string {
  const hash = createHash('sha256').update(der).digest('hex')
  return formatXfcc([
    { by: [], hash, cert: encodePem(der), subject, uri: [], dns: [] },
  ])
}

function hexBytes(hex: string): Uint8Array {
  const clean = hex.length % 2 ? `0${hex}` : hex
  return Uint8Array.from(clean.match(/../g)!.map((b) => parseInt(b, 16)))
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}
