/**
 * Everything an ELDER editor holds, as one plain value: what the state
 * folder rebuilds from its files, what the service's training thread is
 * sent, and what an editor is restored from. The frozen passes of the
 * remembered edits are not part of it: they are a function of the base model
 * and the tokens, recomputed where the snapshot is restored.
 */
import type { Allocation } from './allocation.js';
import type { RememberedEdit } from './frozen.js';

export interface StoredTensor {
  data: Float32Array;
  shape: readonly number[];
}

export interface ElderSnapshot {
  /** Every mixture tensor, by stored name. */
  weights: ReadonlyMap<string, StoredTensor>;
  /** Codes of live edits, in the order they were applied. */
  codes: ReadonlyArray<readonly [string, Uint32Array]>;
  /** Codes of retracted edits. */
  retracted: ReadonlyArray<readonly [string, Uint32Array]>;
  /** Each label's pre-assigned allocation. */
  allocations: ReadonlyArray<readonly [string, Allocation]>;
  /** Live edits to remember (for replay and the gate), in the order they were applied. */
  memory: readonly RememberedEdit[];
}
