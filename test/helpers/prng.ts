/**
 * Seeded random strings for property tests (xorshift32): fast-check's own strings favour repeated characters,
 * which the secret scanner rightly reads as placeholders, so tokens are drawn from a seed fast-check chooses.
 */
export type RandomString = (alphabet: string, n: number) => string;

export function prng(seed: number): RandomString {
  let a = seed >>> 0 || 1;
  return (alphabet, n) => {
    let s = '';
    for (let i = 0; i < n; i++) {
      a ^= a << 13;
      a ^= a >>> 17;
      a ^= a << 5;
      a >>>= 0;
      s += alphabet[a % alphabet.length];
    }
    return s;
  };
}

export const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
