/**
 * Frozen matrices kept in the half precision their checkpoint stores (F16 or
 * BF16): the products read the bits and convert inside the kernel, so such a
 * weight is never upcast whole. Anything else that reads the values as
 * float32 gets a private float32 copy (and the tensor keeps it from then on).
 */

export type HalfDtype = 'F16' | 'BF16';

/** A matrix's values as stored: one 16-bit pattern per element. */
export interface HalfStorage {
  readonly bits: Uint16Array;
  readonly dtype: HalfDtype;
}

/** The kernels' code for a half dtype (native/half.h). */
export function halfCode(dtype: HalfDtype): 1 | 2 {
  return dtype === 'F16' ? 1 : 2;
}

let f16Table: Float32Array | null = null;

/** All 65536 half values as float32, built once (256 KiB) so conversion is one lookup per element. */
export function f16Table32(): Float32Array {
  if (f16Table !== null) return f16Table;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  f16Table = table;
  return table;
}

/** dst[dstOffset + i] = value of bits[offset + i] for i < count. */
export function decodeHalf(bits: Uint16Array, dtype: HalfDtype, offset: number, count: number, dst: Float32Array, dstOffset = 0): void {
  if (dtype === 'BF16') {
    const words = new Uint32Array(dst.buffer, dst.byteOffset + dstOffset * 4, count);
    for (let i = 0; i < count; i++) words[i] = bits[offset + i] << 16;
    return;
  }
  const table = f16Table32();
  for (let i = 0; i < count; i++) dst[dstOffset + i] = table[bits[offset + i]];
}

/** Elements of half-precision weights copied to float32 so far in this process (the bench and tests check that a forward pass copies none). */
let materialized = 0;

export function countMaterialized(elements: number): void {
  materialized += elements;
}

export function materializedElements(): number {
  return materialized;
}
