/**
 * Distinguished names for test certificates: a subject in @peculiar/x509's JSON form turned into
 * the exact string types a test asks for, and a DN printed as Envoy's XFCC `Subject` carries it.
 * @module
 */
// Before @peculiar/x509 loads: see pki.ts.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'

/**
 * Gives each value its string type explicitly: @peculiar/x509 would otherwise strip quotes and
 * backslashes from plain JSON values, and tests of DN escaping need exactly those characters.
 * The types are the ones it picks itself: IA5String for E and DC, PrintableString when the value
 * fits, else UTF8String. A value starting with `#` stays hex DER, as in RFC 4514.
 */
export function toNameParams(subject: Array<Record<string, string[]>>): x509.JsonNameParams {
  return subject.map((rdn) => {
    const params: Record<string, Array<string | x509.JsonAttributeObject>> = {}
    for (const [type, values] of Object.entries(rdn)) {
      params[type] = values.map((value): string | x509.JsonAttributeObject => {
        if (value.startsWith('#')) return value
        if (type === 'E' || type === 'DC') return { ia5String: value }
        if (x509.Name.isPrintableString(value)) return { printableString: value }
        return { utf8String: value }
      })
    }
    // Mixing both value forms in one RDN is fine at runtime; the declared type is narrower.
    return params as x509.JsonAttributeAndValue
  })
}

// OpenSSL's short names (XN_FLAG_FN_SN), keyed by @peculiar/x509's JSON names and OIDs.
const OPENSSL_NAMES: Readonly<Record<string, string>> = {
  CN: 'CN',
  SN: 'SN',
  C: 'C',
  L: 'L',
  ST: 'ST',
  O: 'O',
  OU: 'OU',
  T: 'title',
  G: 'GN',
  I: 'initials',
  DC: 'DC',
  E: 'emailAddress',
  '2.5.4.5': 'serialNumber',
  '2.5.4.9': 'street',
  '2.5.4.17': 'postalCode',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
}

/**
 * The DN as Envoy prints it (BoringSSL `X509_NAME_print_ex(…, XN_FLAG_RFC2253)`): every
 * attribute in reverse encoding order, `,` between RDNs and `+` inside one, `,+"\<>;` and a
 * leading or trailing space backslash-escaped, control and non-ASCII bytes as `\XX` (of the
 * UTF-8). Unlike RFC 4514 writers, `=` is left alone. Attribute types missing from the table
 * print as their dotted OID (OpenSSL would also hex-dump the value).
 */
export function opensslRfc2253(name: x509.Name): string {
  const rdns = name.toJSON()
  const parts: string[] = []
  for (let r = rdns.length - 1; r >= 0; r--) {
    const avas = Object.entries(rdns[r]!).flatMap(([type, values]) =>
      values.map((value) => `${OPENSSL_NAMES[type] ?? type}=${rfc2253Value(value)}`)
    )
    parts.push(avas.reverse().join('+'))
  }
  return parts.join(',')
}

const RFC2253_SPECIALS = new Set(',+"\\<>;')

function rfc2253Value(value: string): string {
  // @peculiar/x509 reads a JSON value starting with `#` as hex DER, which OpenSSL also dumps.
  if (value.startsWith('#')) return value.toUpperCase()
  const bytes = new TextEncoder().encode(value)
  let out = ''
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    const c = String.fromCharCode(b)
    const edge = (i === 0 && c === ' ') || (i === bytes.length - 1 && c === ' ')
    if (edge || RFC2253_SPECIALS.has(c)) out += `\\${c}`
    else if (b < 0x20 || b >= 0x7f) out += `\\${b.toString(16).toUpperCase().padStart(2, '0')}`
    else out += c
  }
  return out
}
