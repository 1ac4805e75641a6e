/** Adler-32 for test fixtures (independent of the backends' implementation under test). */
export function adler32Hex(data: Buffer): string {
  let a = 1;
  let b = 0;
  const MOD = 65521;
  // 3800 bytes keep b below 2^32 before the modulo; any chunk size works, this one is fast.
  for (let i = 0; i < data.length; i += 3800) {
    const end = Math.min(data.length, i + 3800);
    for (let j = i; j < end; j++) {
      a += data[j];
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return (((b << 16) | a) >>> 0).toString(16).padStart(8, '0');
}
