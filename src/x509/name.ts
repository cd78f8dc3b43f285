/**
 * X.509 Names as text: the RFC 4514 string certgate shows for a subject or issuer (formatted as
 * @peculiar/x509 does), and the key two such strings are compared by.
 * @module
 */
import { toHexLower } from '../bytes.ts'
import { type DerReader, derMalformed, TAG_OID, TAG_SEQUENCE, TAG_SET, type Tlv } from './der.ts'
import { isConstructedStringTag, isStringTag, readOid, readString } from './der-values.ts'

const MAX_NAME_ATTRIBUTES = 64
const OID_COMMON_NAME = '2.5.4.3'

/**
 * Short names for attribute types: RFC 4514's, plus the ones @peculiar/x509's `Name.toJSON()`
 * uses (E, G, I, SN = surname, T). Other types print as dotted OIDs.
 */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  [OID_COMMON_NAME]: 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.42': 'G',
  '2.5.4.43': 'I',
  '2.5.4.4': 'SN',
  '2.5.4.12': 'T',
}

/** A Name as RFC 4514 text, with its most specific CN. */
export interface ReadName {
  dn: string
  commonName: string | null
}

/**
 * Name → RFC 4514 string, formatted as the reference does: RDNs reversed; inside a multi-valued
 * RDN, values grouped by attribute type in order of each type's first appearance.
 */
export function readName(r: DerReader, name: Tlv): ReadName {
  const bytes = r.bytes
  const rdns = r.children(name)
  let dn = ''
  let commonName: string | null = null
  let attributes = 0
  while (rdns.more()) {
    const set = r.children(rdns.expect(TAG_SET))
    const types: string[] = []
    const values: string[] = []
    do {
      if (++attributes > MAX_NAME_ATTRIBUTES) derMalformed('too many name attributes')
      const atv = r.children(set.expect(TAG_SEQUENCE))
      const oid = readOid(bytes, atv.expect(TAG_OID))
      const value = atv.next()
      atv.finish()
      let text: string
      if (isStringTag(value.tag)) {
        text = readString(bytes, value)
        if (oid === OID_COMMON_NAME) commonName = text
      } else {
        if (isConstructedStringTag(value.tag)) derMalformed('constructed string')
        const hex = toHexLower(r.encoding(value))
        if (oid === OID_COMMON_NAME) commonName = hex
        text = `#${hex}`
      }
      types.push(SHORT_NAMES[oid] ?? oid)
      values.push(escapeValue(text))
    } while (set.more())
    const rdn = types.length === 1 ? `${types[0]}=${values[0]}` : groupByType(types, values)
    dn = dn === '' ? rdn : `${rdn},${dn}`
  }
  return { dn, commonName }
}

function groupByType(types: string[], values: string[]): string {
  let text = ''
  const done: boolean[] = []
  for (let i = 0; i < types.length; i++) {
    if (done[i]) continue
    for (let j = i; j < types.length; j++) {
      if (types[j] !== types[i]) continue
      done[j] = true
      text += `${text === '' ? '' : '+'}${types[j]}=${values[j]}`
    }
  }
  return text
}

const NEEDS_ESCAPE = /[\\,+"<>;=]|^[ #]| $/

// Exactly the reference's escaping (it is applied to '#hex' values too, as the reference does).
function escapeValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ')
}

/**
 * An RFC 4514 DN → the key names are compared by: attribute types and values case-folded,
 * whitespace around `,`, `+` and `=` dropped, and runs of it inside a value made one space (a
 * subset of RFC 4518's caseIgnoreMatch). Path building, the issuer allowlist and the CA-bundle
 * split all compare names with it; where a signature binds the result, a looser match can only
 * add candidates, never trust.
 */
export function distinguishedNameKey(dn: string): string {
  let key = ''
  forEachAttribute(dn, (attribute, separator) => {
    key += attributeKey(attribute) + separator
  })
  return key
}

/**
 * Calls `visit` with each attribute (`type=value`) of an RFC 4514 DN and the `,` or `+` after it
 * (`''` after the last). Values are escaped, so only an unescaped `,` or `+` separates.
 */
function forEachAttribute(dn: string, visit: (attribute: string, separator: string) => void): void {
  let start = 0
  for (let i = 0; i <= dn.length; i++) {
    const code = dn.charCodeAt(i)
    if (code === 0x5c && i + 1 < dn.length) {
      i++
      continue
    }
    if (i === dn.length || code === 0x2c || code === 0x2b) {
      visit(dn.slice(start, i), i < dn.length ? dn[i]! : '')
      start = i + 1
    }
  }
}

function attributeKey(attribute: string): string {
  const equals = attribute.indexOf('=')
  if (equals === -1) return foldNameText(attribute)
  return `${foldNameText(attribute.slice(0, equals))}=${foldNameText(attribute.slice(equals + 1))}`
}

/** Name text as it is compared: case-folded, trimmed, runs of whitespace made one space. */
export function foldNameText(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, ' ')
}

/**
 * How many attributes of a type (its short name, e.g. `CN`) an RFC 4514 DN holds, those in
 * multi-valued RDNs (`CN=a+CN=b`) included.
 */
export function countNameAttributes(dn: string, type: string): number {
  let count = 0
  forEachAttribute(dn, (attribute) => {
    const equals = attribute.indexOf('=')
    if (equals !== -1 && attribute.slice(0, equals).trim().toUpperCase() === type) count++
  })
  return count
}
