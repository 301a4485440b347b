// RFC 6238 TOTP for the browser scripts: they type the code an authenticator app would show for a key read
// from the page (or passed in), at the server's manual clock. Written out here rather than taken from a package
// so the tests check motpd's codes against an independent implementation.

import { createHmac } from 'node:crypto';

/** RFC 4648 base32 (upper case, no padding needed) to bytes. */
export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/=+$/, '')) {
    const index = alphabet.indexOf(c);
    if (index < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) at unix time `time`. */
export function totp(key, time) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const number = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(number % 1_000_000).padStart(6, '0');
}
