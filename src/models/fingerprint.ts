/**
 * A model's weight fingerprint: sha256 over its configuration's shape and
 * every parameter (in name order). Caches derived from the weights (the key
 * covariances of locate-then-edit methods) are keyed by it, so a cache made
 * for other weights, or before the weights changed, is never used.
 */
import crypto from 'node:crypto';
import type { DecoderLM } from './decoder.js';

export function weightsFingerprint(model: DecoderLM): string {
  const hash = crypto.createHash('sha256');
  const { architecture, layers, width, ffnWidth, vocabSize, heads } = model.config;
  hash.update(JSON.stringify({ architecture, layers, width, ffnWidth, vocabSize, heads }));
  for (const name of [...model.parameters.keys()].sort()) {
    const data = model.parameters.get(name)!.data;
    hash.update(name);
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}
