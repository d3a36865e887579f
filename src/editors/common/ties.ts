/**
 * TIES merging (Yadav et al., NeurIPS 2023, "TIES-Merging: Resolving
 * Interference When Merging Models"), as WISE merges its knowledge shards:
 * 1. trim: each delta keeps its `density` largest-magnitude nonzero entries;
 * 2. elect: each entry's sign is that of the trimmed deltas' sum there;
 * 3. disjoint mean: each entry is the mean of the trimmed deltas that are
 *    nonzero there and agree with the elected sign.
 */
import { UsageError } from '../../util/errors.js';

export function tiesMerge(deltas: readonly Float32Array[], density: number): Float32Array {
  if (deltas.length === 0) throw new UsageError('tiesMerge: no deltas to merge');
  if (!(density > 0 && density <= 1)) throw new UsageError(`tiesMerge: density must be in (0, 1], got ${density}`);
  const size = deltas[0].length;
  if (deltas.some((d) => d.length !== size)) throw new UsageError(`tiesMerge: deltas differ in size (${deltas.map((d) => d.length).join(', ')})`);
  const trimmed = deltas.map((delta) => trim(delta, density));
  const merged = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let sum = 0;
    for (const t of trimmed) sum += t[i];
    if (sum === 0) continue;
    let agreeing = 0;
    let total = 0;
    for (const t of trimmed) {
      if (t[i] !== 0 && t[i] > 0 === sum > 0) {
        agreeing++;
        total += t[i];
      }
    }
    merged[i] = total / agreeing;
  }
  return merged;
}

/** `delta` with all but its `density` share of largest-magnitude nonzero entries set to 0 (ties at the cut are kept). */
function trim(delta: Float32Array, density: number): Float32Array {
  const magnitudes: number[] = [];
  for (const value of delta) if (value !== 0) magnitudes.push(Math.abs(value));
  if (magnitudes.length === 0) return delta.slice();
  const keep = Math.max(1, Math.ceil(density * magnitudes.length));
  magnitudes.sort((a, b) => b - a);
  const cut = magnitudes[keep - 1];
  return delta.map((value) => (Math.abs(value) >= cut ? value : 0));
}
