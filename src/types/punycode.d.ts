// punycode.js ships no types; only the two conversions relay365 uses are declared.
declare module 'punycode.js' {
  export function toASCII(domain: string): string
  export function toUnicode(domain: string): string
  const punycode: { toASCII: typeof toASCII; toUnicode: typeof toUnicode }
  export default punycode
}
