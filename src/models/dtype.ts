/** Half-precision conversions for checkpoints: F16 and BF16 to F32 on load, F32 to either on save. */

import { decodeHalf } from '../tensor/half.js';

/** Converts `count` little-endian F16 values from `src` (byte offset) into dst[dstOffset…]. */
export function f16ToF32(src: Uint8Array, dst: Float32Array, dstOffset: number, count: number): void {
  decodeHalf(new Uint16Array(src.buffer, src.byteOffset, count), 'F16', 0, count, dst, dstOffset);
}

/** BF16 is the top half of an F32: shift it back into place. */
export function bf16ToF32(src: Uint8Array, dst: Float32Array, dstOffset: number, count: number): void {
  decodeHalf(new Uint16Array(src.buffer, src.byteOffset, count), 'BF16', 0, count, dst, dstOffset);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 → IEEE half, round to nearest even, with subnormals, overflow to ±Inf and NaN kept. */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 31) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && half & 1)) half++; // may carry into the exponent: correct
  return sign | half;
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}
