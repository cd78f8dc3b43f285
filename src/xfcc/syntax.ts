/**
 * The characters of Envoy's XFCC text format, shared by the parser and the writer.
 * @module
 */

const TAB = 0x09
export const LF = 0x0a
const VT = 0x0b
const FF = 0x0c
const CR = 0x0d
export const SPACE = 0x20
export const QUOTE = 0x22
export const COMMA = 0x2c
export const SEMICOLON = 0x3b
export const EQUALS = 0x3d
export const BACKSLASH = 0x5c

/** The whitespace Envoy's own XFCC parser trims: ASCII space, tab, LF, VT, FF and CR. */
export function isWhitespace(c: number): boolean {
  return c === SPACE || c === TAB || c === LF || c === VT || c === FF || c === CR
}
