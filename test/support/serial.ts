/**
 * Certificates with a negative serial number, which the test kit (and @peculiar/x509's
 * generator) never makes: a kit certificate with serial `01` whose one serial octet is rewritten
 * in place. The signature no longer verifies, which is fine where no chain is validated.
 * @module
 */
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { encodePem } from '../../src/x509/pem.ts'
import { digestHex } from '../../src/x509/certificate.ts'
import type { TestCertificate, TestPki } from '../../src/testing/index.ts'

// tbsCertificate starts `[0] { INTEGER 2 }` (v3), then the serial: INTEGER, length 1, 0x01.
const VERSION_THEN_SERIAL_01 = [0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01]

/** A leaf whose serial INTEGER is the single octet `octet` (≥ 0x80 makes it negative). */
export async function issueWithSerialOctet(pki: TestPki, commonName: string, octet: number): Promise<TestCertificate> {
  const cert = await pki.issue({ commonName, serialNumber: '01' })
  const der = cert.der.slice()
  const at = indexOf(der, VERSION_THEN_SERIAL_01)
  if (at === -1) throw new Error('serial 01 not found where a v3 certificate has it')
  der[at + VERSION_THEN_SERIAL_01.length - 1] = octet
  return {
    ...cert,
    der,
    pem: encodePem(der),
    x509: new x509.X509Certificate(der as Uint8Array<ArrayBuffer>),
    thumbprint: await digestHex('SHA-256', der),
  }
}

function indexOf(bytes: Uint8Array, pattern: readonly number[]): number {
  outer: for (let i = 0; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer
    return i
  }
  return -1
}
