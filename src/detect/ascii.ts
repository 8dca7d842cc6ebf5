import { Buffer } from 'node:buffer';

/**
 * Whether every code unit of `text` is ASCII (below 0x80). Its UTF-8 length equals its length exactly then: any
 * other code unit takes two or more bytes (a lone surrogate three). Node counts UTF-8 bytes in native code, about
 * ten times faster than the regular expression /[^\x00-\x7f]/ on a 200 KB context, which several detectors
 * asked of every text they scan.
 */
export function isAscii(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') === text.length;
}
