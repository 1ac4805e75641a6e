/**
 * Streaming Adler-32 (zlib's checksum, the one grid storage uses): a = 1 + sum of bytes,
 * b = sum of the a's, both mod 65521. Sums are reduced every NMAX bytes, the largest run for
 * which b cannot pass 2^53 (we use doubles), as zlib does with 5552 for 32-bit integers.
 */
const MOD = 65521;
const NMAX = 5552;

export class Adler32 {
  private a = 1;
  private b = 0;

  update(data: Uint8Array): this {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < data.length;) {
      const end = Math.min(data.length, i + NMAX);
      for (; i < end; i++) {
        a += data[i];
        b += a;
      }
      a %= MOD;
      b %= MOD;
    }
    this.a = a;
    this.b = b;
    return this;
  }

  /** 8 lowercase hex digits. */
  hex(): string {
    return ((this.b * 65536 + this.a) >>> 0).toString(16).padStart(8, '0');
  }
}

export function adler32(data: Uint8Array): string {
  return new Adler32().update(data).hex();
}
