/**
 * A model's weight fingerprint: sha256 over its configuration's shape and
 * every parameter (in name order). Caches derived from the weights (the key
 * covariances of locate-then-edit methods) are keyed by it, so a cache made
 * for other weights, or before the weights changed, is never used. A weight
 * is hashed by its float32 values however it is held, so a half-precision
 * weight kept as stored hashes as its float32 copy would.
 */
import crypto from 'node:crypto';
import { kernels } from '../tensor/backends/index.js';
import { halfCode } from '../tensor/half.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DecoderLM } from './decoder.js';

/** Elements converted per step when hashing a half-precision weight. */
const HASH_CHUNK = 1 << 20;

/** Feeds a tensor's float32 values to `hash` (a half-precision one through a small buffer, never upcast whole). */
export function hashTensorValues(hash: crypto.Hash, tensor: Tensor): void {
  const half = tensor.half;
  if (half === null) {
    const data = tensor.data;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const chunk = new Float32Array(Math.min(HASH_CHUNK, half.bits.length));
  for (let done = 0; done < half.bits.length; done += chunk.length) {
    const n = Math.min(chunk.length, half.bits.length - done);
    kernels.halfToFloat(half.bits, done, halfCode(half.dtype), chunk, n);
    hash.update(new Uint8Array(chunk.buffer, 0, n * 4));
  }
}

export function weightsFingerprint(model: DecoderLM): string {
  const hash = crypto.createHash('sha256');
  const { architecture, layers, width, ffnWidth, vocabSize, heads } = model.config;
  hash.update(JSON.stringify({ architecture, layers, width, ffnWidth, vocabSize, heads }));
  for (const name of [...model.parameters.keys()].sort()) {
    hash.update(name);
    hashTensorValues(hash, model.parameters.get(name)!);
  }
  return hash.digest('hex');
}
