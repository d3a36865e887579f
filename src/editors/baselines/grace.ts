/**
 * GRACE (Hartvigsen et al., NeurIPS 2023): a discrete key–value codebook at
 * one layer. Keys are that layer's input at an edit's last prompt token;
 * values replace the layer's output for inputs whose key lies within an
 * entry's deferral radius ε. Edits are applied one at a time:
 *   - no entry within (its ε + ε_init) → a new entry (key, value, ε_init,
 *     target; the paper's "label" is the target text);
 *   - the nearest entry has the same target → its radius expands to cover the
 *     new key and its value is trained on the new input too;
 *   - a different target → both radii shrink to half the distance (split), and
 *     the new edit gets its own entry.
 * Values start from the layer's own output ("warm" init) and are trained with
 * Adam on the LM loss of the target. Outputs are replaced from the last prompt
 * token onward. Inputs outside every radius run the untouched layer.
 * Defaults (GRACE's paper and EasyEdit): ε_init = 1.0, lr 1.0, 100 iterations,
 * ELDER's last edited block. ε is in the units of the layer's activations, so
 * it needs tuning per model, as GRACE's authors note.
 */

import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { replaceRows, selectRows } from '../../tensor/ops/select.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { padTokenId, prepareBatch } from '../common/batch.js';
import { replaceFromValues } from '../common/row-values.js';
import { InferenceSession } from '../common/session.js';
import { defaultSite, siteShape } from '../common/sites.js';
import { eachEditAlone } from '../common/train-loop.js';
import type { TokenizedEdit } from '../edit.js';
import { type Editor, frozenBlocks, rowCapture, type StepReport, trainThroughHooks } from '../editor.js';
import { KeyStore } from './keys.js';

export interface GraceConfig {
  site: string;
  block: number;
  epsInit: number;
  lr: number;
  iterations: number;
}

export function defaultGraceConfig(model: DecoderLM, overrides: Partial<GraceConfig> = {}): GraceConfig {
  const { site, lastBlock } = defaultSite(model);
  return { site, block: lastBlock, epsInit: 1.0, lr: 1.0, iterations: 100, ...overrides };
}

interface Entry {
  value: Tensor;
  radius: number;
  /** The target text the entry answers with (GRACE's paper calls it the entry's label; elder keeps "label" for an edit's group). */
  target: string;
}

export class GraceEditor implements Editor {
  readonly method = 'grace';
  readonly keys: KeyStore;
  readonly entries: Entry[] = [];
  private readonly name: string;
  private readonly outDim: number;

  constructor(
    readonly model: DecoderLM,
    readonly config: GraceConfig,
  ) {
    const { inDim, outDim } = siteShape(model, config.site, config.block);
    this.keys = new KeyStore(inDim);
    this.outDim = outDim;
    this.name = model.linearName(config.block, config.site);
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    return eachEditAlone(edits, (edit) => this.applyOne(edit, onStep));
  }

  private applyOne(edit: TokenizedEdit, onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const prepared = prepareBatch([edit], padTokenId(this.model.config));
    // Blocks below the layer run once, for the key and for every training iteration.
    const prefix = frozenBlocks(this.model, prepared.tokens, this.config.block);
    const { hooks: capture, captured } = rowCapture(this.name, prepared.queryRows);
    noGrad(() => this.model.runBlocks(prefix, this.config.block, this.config.block + 1, { hooks: capture }));
    const key = captured.input!.data;
    const output = captured.output!.data;
    const target = edit.target;
    const nearest = this.keys.nearest(key);
    let entryIndex: number;
    const near = nearest.index >= 0 ? this.entries[nearest.index] : null;
    if (near === null || nearest.distance > near.radius + this.config.epsInit) {
      entryIndex = this.addEntry(key, output, this.config.epsInit, target);
    } else if (near.target === target) {
      near.radius = Math.max(near.radius, nearest.distance);
      entryIndex = nearest.index;
    } else {
      near.radius = nearest.distance / 2;
      entryIndex = this.addEntry(key, output, nearest.distance / 2, target);
    }
    const entry = this.entries[entryIndex];
    entry.value.requiresGrad = true;
    const fromRow = prepared.queryRows[0];
    const rows = Int32Array.from({ length: prepared.tokens.steps - fromRow }, (_, i) => fromRow + i);
    const hooks = () => new Map<string, LinearHook>([[this.name, (_input, out) => replaceRows(out, rows, entry.value, new Int32Array(rows.length))]]);
    const result = trainThroughHooks(this.model, prepared, prefix, this.config.block, [entry.value], hooks, this.config, onStep);
    entry.value.requiresGrad = false;
    return result;
  }

  private addEntry(key: Float32Array, output: Float32Array, radius: number, target: string): number {
    this.keys.add(key);
    this.entries.push({ value: Tensor.from(output, [1, this.outDim]), radius, target });
    return this.entries.length - 1;
  }

  /** Entry used by a key, or −1 when the key is outside every radius. */
  lookup(key: Float32Array): number {
    const nearest = this.keys.nearest(key);
    return nearest.index >= 0 && nearest.distance <= this.entries[nearest.index].radius ? nearest.index : -1;
  }

  session(queryRows: Int32Array): GraceSession {
    return new GraceSession(this, queryRows);
  }

  /** `output` with sequence b's rows from `from(b)` on replaced by the value of entry `chosen[b]` (−1: left alone). */
  replaceFrom(output: Tensor, chosen: readonly number[], from: (b: number) => number): Tensor {
    return replaceFromValues(
      output,
      this.entries.map((entry) => entry.value),
      chosen,
      from,
    );
  }

  /** The linear whose output GRACE replaces. */
  get site(): string {
    return this.name;
  }

  addedParameters(): number {
    return this.entries.length * (this.keys.width + this.outDim + 1);
  }
}

/**
 * GRACE on one batch of inputs: the prompt pass looks each sequence's key
 * up in the codebook (its entry, or −1 outside every radius) and replaces
 * the layer's output from the last prompt token on; each decoding step
 * replaces the new token's output with the same entry's value.
 */
export class GraceSession extends InferenceSession<number[]> {
  constructor(
    private readonly editor: GraceEditor,
    queryRows: Int32Array,
  ) {
    super(queryRows);
  }

  protected promptHooks(decide: (chosen: number[]) => void): Map<string, LinearHook> {
    const { editor, queryRows } = this;
    return new Map([
      [
        editor.site,
        (input: Tensor, output: Tensor) => {
          const width = editor.keys.width;
          const keys = selectRows(input, queryRows).data;
          const chosen = Array.from(queryRows, (_, b) => editor.lookup(keys.subarray(b * width, (b + 1) * width)));
          decide(chosen);
          const steps = output.shape[1];
          return editor.replaceFrom(output, chosen, (b) => queryRows[b] - b * steps);
        },
      ],
    ]);
  }

  protected stepHooks(chosen: number[]): Map<string, LinearHook> {
    return new Map([[this.editor.site, (_input: Tensor, output: Tensor) => this.editor.replaceFrom(output, chosen, () => 0)]]);
  }
}
