/**
 * T-Patcher (Huang et al., ICLR 2023, "Transformer-Patcher: One Mistake
 * Worth One Neuron"): each edit adds one neuron to the last FFN layer, a key
 * k and bias b on the FFN's input and a value v added to its output:
 * FFN(x) + act(x·k + b)·v. The neuron is trained on
 *   L = L_edit + λ_act·L_act + λ_mem·L_mem,
 * L_edit the LM loss on the target, L_act = mean exp(−(x·k + b)) over the
 * edit's rows (so the neuron fires on the edit), and L_mem = mean
 * max(0, x·k + b + margin) over remembered rows of other inputs (so it stays
 * silent elsewhere). Earlier neurons are frozen; edits are patched one at a
 * time, each with its own neuron, as the paper does.
 *
 * What is implemented, and where it departs from the paper:
 * - The neuron fires on the rows that predict target tokens (the last prompt
 *   token and each target token but the last): in the last block a patch at
 *   one position reaches no other position, so a multi-token target needs it
 *   at every one of them. Every other row of the edit's prompt is memory.
 * - Activation: ReLU, so that a silent neuron adds exactly zero and inputs on
 *   which no neuron fires run the base model bit for bit (the paper uses the
 *   FFN's own activation; GPT-2's GELU is never exactly zero).
 * - Memory: the paper keeps queries of the model's training data, which an
 *   editor here does not see. It samples text from the model itself instead
 *   (`memorySamples` sequences of `memoryTokens` tokens, temperature 1,
 *   seeded), which follows the training data's distribution without reading
 *   any evaluation prompt; every row of earlier edits and the current edit's
 *   prompt rows join it, capped at `memoryRows` (a seeded reservoir). For an
 *   edit that names its subject, `subjectSwaps` copies of its prompt with the
 *   subject's last token swapped for a sampled token are negatives too: the
 *   neuron must answer this subject, not the phrasing.
 * - Initialisation: k along the edit's mean target-row query, scaled to unit
 *   activation there, b = 0 and v = 0.
 * - Settings (ours, for a small model, not the paper's): lr 1e-2 Adam, 50
 *   iterations, λ_act 1, λ_mem 10, margin 1.
 */

import { lossOnHidden } from '../../models/batch.js';
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { generate } from '../../models/generate.js';
import { add, scale } from '../../tensor/ops/arithmetic.js';
import { linear } from '../../tensor/ops/matmul.js';
import { meanOf } from '../../tensor/ops/reduce.js';
import { relu } from '../../tensor/ops/relu.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { Random } from '../../util/random.js';
import { padTokenId, prepareBatch } from '../common/batch.js';
import { FixedSession } from '../common/session.js';
import { eachEditAlone, trainLoop } from '../common/train-loop.js';
import type { TokenizedEdit } from '../edit.js';
import { type Editor, frozenBlocks, rowCapture, type StepReport } from '../editor.js';

export interface TPatcherConfig {
  /** The block whose FFN gets the neurons (default: the last). */
  block: number;
  lr: number;
  iterations: number;
  activationWeight: number;
  memoryWeight: number;
  /** Remembered rows must stay this far below zero. */
  margin: number;
  /** Remembered rows kept at most. */
  memoryRows: number;
  /** Negatives per edit with a subject: its prompt with the subject swapped ({@link TPatcherEditor.subjectSwaps}). */
  subjectSwaps: number;
  /** Sequences sampled from the model for the memory, and their length. */
  memorySamples: number;
  memoryTokens: number;
  seed: number;
}

export function defaultTPatcherConfig(model: DecoderLM, overrides: Partial<TPatcherConfig> = {}): TPatcherConfig {
  return {
    block: model.config.layers - 1,
    lr: 1e-2,
    iterations: 50,
    activationWeight: 1,
    memoryWeight: 10,
    margin: 1,
    memoryRows: 4096,
    subjectSwaps: 32,
    memorySamples: 64,
    memoryTokens: 32,
    seed: 0,
    ...overrides,
  };
}

/** The FFN's input linear (its input is the FFN's input) and output linear, per architecture. */
function ffnLinears(model: DecoderLM, block: number): { input: string; output: string } {
  return { input: model.linearName(block, model.modules.mlpInput), output: model.linearName(block, model.modules.mlpOutput) };
}

export class TPatcherEditor implements Editor {
  readonly method = 't-patcher';
  /** Frozen neurons: keys [in, P], biases [P], values [P, out]; null before the first edit. */
  private patch: { keys: Tensor; biases: Tensor; values: Tensor } | null = null;
  /** Remembered FFN inputs of earlier edits (and prompts), flattened [n, in]. */
  private readonly memory: Float32Array[] = [];
  private memorySeen = 0;
  private memorySampled = false;
  /** Tokens of the sampled text: the stand-in subjects of {@link subjectSwaps}. */
  private readonly sampledTokens: number[] = [];
  private readonly rng: Random;
  private readonly sites: { input: string; output: string };
  private readonly inDim: number;
  private readonly outDim: number;

  constructor(
    readonly model: DecoderLM,
    readonly config: TPatcherConfig,
  ) {
    this.sites = ffnLinears(model, config.block);
    this.inDim = model.config.width;
    this.outDim = model.config.width;
    this.rng = new Random(config.seed);
  }

  /** Neurons added so far (one per edit). */
  get neurons(): number {
    return this.patch?.biases.size ?? 0;
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    return eachEditAlone(edits, (edit) => this.patchOne(edit, onStep));
  }

  session(queryRows: Int32Array): FixedSession {
    return new FixedSession(queryRows, () => this.patchHooks(null));
  }

  /** Keys, biases and values of every neuron. */
  addedParameters(): number {
    return this.neurons * (this.inDim + 1 + this.outDim);
  }

  private patchOne(edit: TokenizedEdit, onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const { model, config } = this;
    if (!this.memorySampled) this.sampleMemory();
    const prepared = prepareBatch([edit], padTokenId(model.config));
    const prefix = frozenBlocks(model, prepared.tokens, config.block);
    // The FFN's inputs do not depend on the patch (it acts after them): read them once.
    const rows = this.ffnInputsFrom(prefix);
    const editRows = selectRows(rows, prepared.targets.rows);
    const memory = this.memoryTensor([...this.rowsOf(rows, 0, prepared.queryRows[0]), ...this.subjectSwaps(edit)]);

    const neuron = this.newNeuron(editRows);
    const { activationWeight, memoryWeight, margin } = config;
    const result = trainLoop(
      [neuron.key, neuron.bias, neuron.value],
      { lr: config.lr, iterations: config.iterations },
      () => {
        const hidden = model.finalNorm(model.runBlocks(prefix, config.block, model.config.layers, { hooks: this.patchHooks(neuron) }));
        const { loss } = lossOnHidden(model, hidden, prepared.targets);
        const activation = meanOf(
          linear(editRows, neuron.key, neuron.bias, 'in_out'),
          (z) => Math.exp(-z),
          (z) => -Math.exp(-z),
        );
        let total = add(loss, scale(activation, activationWeight));
        let memoryLoss = 0;
        if (memory !== null) {
          const silence = meanOf(
            linear(memory, neuron.key, neuron.bias, 'in_out'),
            (z) => Math.max(0, z + margin),
            (z) => (z + margin > 0 ? 1 : 0),
          );
          total = add(total, scale(silence, memoryWeight));
          memoryLoss = silence.item();
        }
        return { loss: total, solved: () => false, parts: { editLoss: loss.item(), activationLoss: activation.item(), memoryLoss } };
      },
      onStep,
      'T-Patcher',
    );
    this.freeze(neuron);
    for (const row of this.rowsOf(rows, 0, rows.rows)) this.remember(row);
    return result;
  }

  /** A trainable neuron that fires with unit activation at the mean of the edit's rows. */
  private newNeuron(editRows: Tensor): { key: Tensor; bias: Tensor; value: Tensor } {
    const mean = new Float32Array(this.inDim);
    const count = editRows.rows;
    for (let r = 0; r < count; r++) for (let i = 0; i < this.inDim; i++) mean[i] += editRows.data[r * this.inDim + i] / count;
    let norm2 = 0;
    for (const v of mean) norm2 += v * v;
    const key = Tensor.from(
      mean.map((v) => v / Math.max(norm2, 1e-12)),
      [this.inDim, 1],
      true,
    );
    return { key, bias: Tensor.zeros([1], true), value: Tensor.zeros([1, this.outDim], true) };
  }

  /** Hooks adding the frozen neurons' output (and `trainable`'s, while it trains) to the FFN's output. */
  private patchHooks(trainable: { key: Tensor; bias: Tensor; value: Tensor } | null): Map<string, LinearHook> {
    let ffnInput: Tensor | null = null;
    const hooks = new Map<string, LinearHook>();
    if (this.patch === null && trainable === null) return hooks;
    hooks.set(this.sites.input, (input, output) => {
      ffnInput = input;
      return output;
    });
    hooks.set(this.sites.output, (_input, output) => {
      const x = ffnInput!;
      let result = output;
      if (this.patch !== null) {
        const fired = noGrad(() => relu(linear(x, this.patch!.keys, this.patch!.biases, 'in_out')));
        // Only add when some neuron fires: an input no neuron answers keeps the base model's output bit for bit.
        if (fired.data.some((a) => a > 0))
          result = add(
            result,
            noGrad(() => linear(fired, this.patch!.values, null, 'in_out')),
          );
      }
      if (trainable !== null) result = add(result, linear(relu(linear(x, trainable.key, trainable.bias, 'in_out')), trainable.value, null, 'in_out'));
      return result;
    });
    return hooks;
  }

  /** Appends a trained neuron to the frozen patch. */
  private freeze(neuron: { key: Tensor; bias: Tensor; value: Tensor }): void {
    const p = this.neurons;
    const keys = Tensor.zeros([this.inDim, p + 1]);
    const biases = Tensor.zeros([p + 1]);
    const values = Tensor.zeros([p + 1, this.outDim]);
    for (let i = 0; i < this.inDim; i++) {
      if (this.patch !== null) keys.data.set(this.patch.keys.data.subarray(i * p, (i + 1) * p), i * (p + 1));
      keys.data[i * (p + 1) + p] = neuron.key.data[i];
    }
    if (this.patch !== null) {
      biases.data.set(this.patch.biases.data);
      values.data.set(this.patch.values.data);
    }
    biases.data[p] = neuron.bias.data[0];
    values.data.set(neuron.value.data, p * this.outDim);
    this.patch = { keys, biases, values };
  }

  /**
   * Negatives for one edit: its prompt with the subject's last token swapped
   * for tokens of the sampled text, read from the swap on (the FFN inputs of
   * the same phrasing about something else). Empty for edits without a subject.
   */
  private subjectSwaps(edit: TokenizedEdit): Float32Array[] {
    const at = edit.subjectEnd;
    if (at === undefined || this.config.subjectSwaps === 0 || this.sampledTokens.length === 0) return [];
    const rows: Float32Array[] = [];
    for (let n = 0; n < this.config.subjectSwaps; n++) {
      const ids = [...edit.promptIds];
      const swap = this.sampledTokens[Math.floor(this.rng.uniform() * this.sampledTokens.length)];
      if (swap === ids[at]) continue;
      ids[at] = swap;
      rows.push(...this.ffnInputs(ids).slice(at));
    }
    return rows;
  }

  /** Seeds the memory with the FFN inputs of text sampled from the model itself. */
  private sampleMemory(): void {
    this.memorySampled = true;
    const start = padTokenId(this.model.config);
    const tokens = Math.min(this.config.memoryTokens, this.model.config.contextLength - 1);
    for (let s = 0; s < this.config.memorySamples; s++) {
      const sampled = generate(this.model, [start], { maxTokens: tokens, temperature: 1, seed: this.config.seed * 100_003 + s, stopIds: [] }).ids;
      for (const id of sampled) this.sampledTokens.push(id);
      for (const row of this.ffnInputs([start, ...sampled])) this.remember(row);
    }
  }

  /** The FFN's input at every position of a sequence, as rows. */
  private ffnInputs(ids: readonly number[]): Float32Array[] {
    const batch = prepareBatch([{ promptIds: [...ids], targetIds: [] }], padTokenId(this.model.config));
    const rows = this.ffnInputsFrom(frozenBlocks(this.model, batch.tokens, this.config.block));
    return this.rowsOf(rows, 0, rows.rows);
  }

  /** The FFN's input at every position of one sequence [T, in], from the hidden state entering its block. */
  private ffnInputsFrom(prefix: Tensor): Tensor {
    const capture = rowCapture(
      this.sites.input,
      Int32Array.from({ length: prefix.shape[1] }, (_, t) => t),
    );
    noGrad(() => this.model.runBlocks(prefix, this.config.block, this.config.block + 1, { hooks: capture.hooks }));
    return capture.captured.input!;
  }

  /** Rows [from, to) of a [T, in] tensor, each its own array. */
  private rowsOf(rows: Tensor, from: number, to: number): Float32Array[] {
    return Array.from({ length: to - from }, (_, r) => rows.data.slice((from + r) * this.inDim, (from + r + 1) * this.inDim));
  }

  /** Keeps a row in the memory (a seeded reservoir of at most `memoryRows`). */
  private remember(row: Float32Array): void {
    this.memorySeen++;
    if (this.memory.length < this.config.memoryRows) {
      this.memory.push(row);
      return;
    }
    const slot = Math.floor(this.rng.uniform() * this.memorySeen);
    if (slot < this.config.memoryRows) this.memory[slot] = row;
  }

  /** The memory rows and `extra`, as one [n, in] tensor (null when there are none). */
  private memoryTensor(extra: readonly Float32Array[]): Tensor | null {
    const all = [...this.memory, ...extra];
    if (all.length === 0) return null;
    const out = Tensor.zeros([all.length, this.inDim]);
    all.forEach((row, r) => {
      out.data.set(row, r * this.inDim);
    });
    return out;
  }
}
