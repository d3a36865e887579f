/**
 * WISE (Wang et al., NeurIPS 2024, "WISE: Rethinking the Knowledge Memory
 * for Lifelong Model Editing of Large Language Models"): edits go into a
 * side memory, a copy of one FFN weight, while the main memory (the model's
 * own weight) stays frozen. A router compares each memory's output with the
 * main one's: an input whose activation distance Δact(x) = mean over its
 * prompt tokens of ‖a_t·(W_side − W_main)‖ reaches a threshold runs on the
 * memory that moves it most, every other input on the main one.
 *
 * As the reference code (zjunlp/EasyEdit `models/wise`, WISE-Merge) runs it:
 * - Knowledge sharding: the live shard trains a random subspace of the
 *   weight (a mask of `maskRatio` of its entries, seeded), starting from the
 *   model's own weight; after `shardEdits` edits it is saved and the next
 *   shard starts again from the model's weight (`save_freq`). Saved shards
 *   are merged by TIES (ties.ts, `density`) into the merged memory, as the
 *   reference merges its memories when it serves them.
 * - Serving: two side memories, the merged one (every saved shard) and the
 *   live shard, untrimmed. Below the threshold on both an input runs the
 *   main memory; otherwise the one with the larger Δact.
 * - Router threshold: `actRatio` (0.8) × the smallest Δact of any edit
 *   when its training ended.
 * - Edit loss: the LM loss on the target plus the routing margins
 *   ReLU(Δact(x_irr) − α) + ReLU(β − Δact(x_e)) + ReLU(γ − (Δact(x_e) −
 *   Δact(x_irr))), means over tokens, with one irrelevant input x_irr per
 *   edit (the reference appends one unrelated prompt of another dataset to
 *   each edit), and the reference's margins 5, 20, 10 (which keep more
 *   edits than half or twice them).
 * - Plain SGD at lr 1.0, at most `iterations` (40) steps, each entry of the
 *   shard clamped to ±`normConstraint` (1.0) of the model's weight; stopped
 *   once the loss is at most 0.02 and moved by at most 1e-4 in a step.
 * Deviations:
 * - The side memory is the MLP output projection (GPT-2 `mlp.c_proj`,
 *   LLaMA `mlp.down_proj`; the paper's "value matrix") of ELDER's last
 *   edited block, and Δact is measured on its output; the reference edits
 *   GPT2-XL's block-8 `c_fc` and measures after the activation function.
 * - The irrelevant inputs are texts sampled from the model itself
 *   (`irrelevantSamples` of `irrelevantTokens` tokens, temperature 1,
 *   seeded), one drawn per edit: elder has no second dataset to draw from.
 * - No context templates, no SGD weight decay (1e-5 in the reference), no
 *   retrieval between several merged memories (WISE-Retrieve), and the
 *   shard sizes are scaled to the 2,000-edit protocol (`shardEdits` 250,
 *   `shardsPerMerge` 4, against save every 500 and merge every 1,000).
 * On a long stream the live shard forgets what it learned earlier: each
 * edit trains the shard's shared entries with nothing holding the earlier
 * edits, as in the reference. The reference's settings stay; the
 * measurements (margins, shard size, lr, clamp, mask ratio) are in
 * docs/evaluation.md#baselines-against-their-reference-code.
 */
import { lossOnHidden } from '../../models/batch.js';
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { add, masked, scale } from '../../tensor/ops/arithmetic.js';
import { matmul } from '../../tensor/ops/matmul.js';
import { meanOf, rowL2Norms } from '../../tensor/ops/reduce.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { UsageError } from '../../util/errors.js';
import { Random } from '../../util/random.js';
import { padTokenId, prepareBatch } from '../common/batch.js';
import type { EditorResources } from '../common/resources.js';
import { InferenceSession } from '../common/session.js';
import { checkBlock, defaultSite, mlpOutputSite, siteShape } from '../common/sites.js';
import { tiesMerge } from '../common/ties.js';
import { eachEditAlone, trainLoop } from '../common/train-loop.js';
import type { TokenizedEdit } from '../edit.js';
import { type Editor, frozenBlocks, type StepReport } from '../editor.js';
import { samplePrefixes } from '../locate/contexts.js';

export interface WiseConfig {
  block: number;
  lr: number;
  iterations: number;
  /** Share of the side memory's entries one shard trains. */
  maskRatio: number;
  /** Edits per shard. */
  shardEdits: number;
  /** Saved shards merged into the merged memory at a time. */
  shardsPerMerge: number;
  /** TIES: share of each shard's nonzero entries kept before the sign election. */
  density: number;
  /** Router threshold as a share of the smallest edit's Δact. */
  actRatio: number;
  /** Margins α (irrelevant inputs below), β (edits above) and γ (their gap) on Δact. */
  marginIrrelevant: number;
  marginEdit: number;
  marginGap: number;
  /** Largest change of one entry of the shard from the model's weight. */
  normConstraint: number;
  /** Training stops once the loss is at most this and moved by at most `stopChange` in a step. */
  stopLoss: number;
  stopChange: number;
  /** Irrelevant inputs: a pool of texts sampled from the model, of this many tokens, one drawn per edit. */
  irrelevantSamples: number;
  irrelevantTokens: number;
  seed: number;
}

export function defaultWiseConfig(model: DecoderLM, overrides: Partial<WiseConfig> = {}): WiseConfig {
  return {
    block: defaultSite(model).lastBlock,
    lr: 1.0,
    iterations: 40,
    maskRatio: 0.2,
    shardEdits: 250,
    shardsPerMerge: 4,
    density: 0.53,
    actRatio: 0.8,
    marginIrrelevant: 5,
    marginEdit: 20,
    marginGap: 10,
    normConstraint: 1.0,
    stopLoss: 0.02,
    stopChange: 1e-4,
    irrelevantSamples: 32,
    irrelevantTokens: 16,
    seed: 0,
    ...overrides,
  };
}

interface Shard {
  keep: Uint8Array;
  delta: Float32Array;
  edits: number;
}

/** Which memory answers a sequence: the model's own, the merged side memory, or the live shard. */
export type WiseRoute = 'main' | 'merged' | 'live';

/** Each side memory's change to the site's output, row by row (null where the memory holds nothing yet). */
export interface SideChanges {
  merged: Float32Array | null;
  live: Float32Array | null;
}

export class WiseEditor implements Editor {
  readonly method = 'wise';
  /** Δact of each edit when its training ended. */
  readonly editActivations: number[] = [];
  readonly name: string;
  private readonly inDim: number;
  private readonly outDim: number;
  /** Entries of the side memory, inDim·outDim. */
  private readonly size: number;
  /** W_side − W_main of every merged shard, [inDim, outDim] (null until the first merge). */
  private merged: Float32Array | null = null;
  /** Shards saved since the last merge. */
  private saved: Shard[] = [];
  private live: Shard | null = null;
  /** The memories as served, built when first needed after a change (null: none yet, or stale). */
  private servedMerged: Tensor | null = null;
  private servedLive: Tensor | null = null;
  private readonly random: Random;
  /** The site's input rows of each irrelevant text: fixed, since nothing below the side memory changes. */
  private readonly irrelevant: Tensor[];

  constructor(
    readonly model: DecoderLM,
    readonly config: WiseConfig,
    _resources: EditorResources = {},
  ) {
    checkBlock(model.config, config.block, 'wise.block');
    const site = mlpOutputSite(model.config);
    ({ inDim: this.inDim, outDim: this.outDim } = siteShape(model, site, config.block));
    const size = this.inDim * this.outDim;
    this.size = size;
    const check = (ok: boolean, message: string) => {
      if (!ok) throw new UsageError(message);
    };
    for (const key of ['iterations', 'shardEdits', 'shardsPerMerge', 'irrelevantSamples', 'irrelevantTokens'] as const)
      check(Number.isInteger(config[key]) && config[key] >= 1, `wise.${key} must be a positive integer, got ${config[key]}`);
    for (const key of ['lr', 'actRatio', 'marginIrrelevant', 'marginEdit', 'marginGap', 'normConstraint', 'stopLoss', 'stopChange'] as const)
      check(
        Number.isFinite(config[key]) && config[key] >= 0 && ((key !== 'lr' && key !== 'normConstraint') || config[key] > 0),
        `wise.${key} must be a finite non-negative number, got ${config[key]}`,
      );
    check(config.maskRatio > 0 && config.maskRatio <= 1, `wise.maskRatio must be in (0, 1], got ${config.maskRatio}`);
    check(config.density > 0 && config.density <= 1, `wise.density must be in (0, 1], got ${config.density}`);
    check(config.shardsPerMerge <= size, `wise.shardsPerMerge ${config.shardsPerMerge} exceeds the ${size} entries of the side memory`);
    check(Math.round(config.maskRatio * size) >= 1, `wise.maskRatio ${config.maskRatio} leaves no entry of the ${size}-entry side memory to train`);
    this.name = model.linearName(config.block, site);
    this.random = new Random(config.seed);
    const sampled = samplePrefixes(model, config.irrelevantSamples, config.irrelevantTokens, config.seed).slice(1);
    this.irrelevant = sampled.map((ids) => this.siteInputs(ids));
  }

  /** The site's input on every token of `ids`, [tokens, inDim]. */
  private siteInputs(ids: readonly number[]): Tensor {
    let rows: Tensor | null = null;
    const prefix = frozenBlocks(this.model, { ids: Int32Array.from(ids), batch: 1, steps: ids.length }, this.config.block);
    noGrad(() =>
      this.model.runBlocks(prefix, this.config.block, this.config.block + 1, {
        hooks: new Map<string, LinearHook>([
          [
            this.name,
            (input, output) => {
              rows = Tensor.from(input.data.slice(), [ids.length, this.inDim]);
              return output;
            },
          ],
        ]),
      }),
    );
    if (rows === null) throw new Error(`WISE: ${this.name} did not run`);
    return rows;
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    return eachEditAlone(edits, (edit) => this.applyOne(edit, onStep));
  }

  /** The shard the next edit trains: the live one, or a new one from the model's weight once the live one is full. */
  private liveShard(): Shard {
    if (this.live !== null && this.live.edits < this.config.shardEdits) return this.live;
    if (this.live !== null) this.saveLive();
    const keep = new Uint8Array(this.size);
    for (let i = 0; i < keep.length; i++) keep[i] = this.random.uniform() < this.config.maskRatio ? 1 : 0;
    this.live = { keep, delta: new Float32Array(this.size), edits: 0 };
    return this.live;
  }

  private saveLive(): void {
    if (this.live === null) return;
    this.saved.push(this.live);
    this.live = null;
    if (this.saved.length === this.config.shardsPerMerge) {
      this.merged = this.withSavedMerged(this.merged);
      this.saved = [];
    }
    this.servedMerged = null;
    this.servedLive = null;
  }

  /** A copy of `merged` (zero when null) with the saved shards TIES-merged in. */
  private withSavedMerged(merged: Float32Array | null): Float32Array {
    const delta = merged === null ? new Float32Array(this.size) : merged.slice();
    if (this.saved.length === 0) return delta;
    const pending = tiesMerge(
      this.saved.map((s) => s.delta),
      this.config.density,
    );
    for (let i = 0; i < delta.length; i++) delta[i] += pending[i];
    return delta;
  }

  private applyOne(edit: TokenizedEdit, onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const shard = this.liveShard();
    const prepared = prepareBatch([edit], padTokenId(this.model.config));
    const prefix = frozenBlocks(this.model, prepared.tokens, this.config.block);
    const editInputs = this.siteInputs(edit.promptIds);
    const irrelevantInputs = this.irrelevant[this.random.int(this.irrelevant.length)];
    const trained = Tensor.from(shard.delta, [this.inDim, this.outDim], true);
    const { marginIrrelevant: alpha, marginEdit: beta, marginGap: gamma, normConstraint, stopLoss, stopChange } = this.config;
    let previousLoss = Infinity;
    const result = trainLoop(
      [trained],
      { lr: this.config.lr, iterations: this.config.iterations, earlyStop: true, optimizer: 'sgd' },
      () => {
        clamp(trained.data, normConstraint);
        const side = masked(trained, shard.keep);
        const hooks = new Map<string, LinearHook>([[this.name, (input, output) => add(output, matmul(input, side))]]);
        const hidden = this.model.finalNorm(this.model.runBlocks(prefix, this.config.block, this.model.config.layers, { hooks }));
        const { loss: lmLoss } = lossOnHidden(this.model, hidden, prepared.targets);
        const editNorms = rowL2Norms(matmul(editInputs, side));
        const irrelevantNorms = rowL2Norms(matmul(irrelevantInputs, side));
        const editMean = meanOf(editNorms, identity, one);
        const irrelevantMean = meanOf(irrelevantNorms, identity, one);
        const margins = add(
          add(
            meanOf(
              irrelevantNorms,
              (v) => Math.max(0, v - alpha),
              (v) => (v > alpha ? 1 : 0),
            ),
            meanOf(
              editNorms,
              (v) => Math.max(0, beta - v),
              (v) => (v < beta ? -1 : 0),
            ),
          ),
          meanOf(
            add(editMean, scale(irrelevantMean, -1)),
            (v) => Math.max(0, gamma - v),
            (v) => (v < gamma ? -1 : 0),
          ),
        );
        const loss = add(lmLoss, margins);
        const value = loss.item();
        const converged = value <= stopLoss && Math.abs(value - previousLoss) <= stopChange;
        previousLoss = value;
        return { loss, solved: () => converged, parts: { model: lmLoss.item(), margins: margins.item() } };
      },
      onStep,
      'the WISE',
    );
    clamp(trained.data, normConstraint);
    for (let i = 0; i < shard.delta.length; i++) shard.delta[i] = shard.keep[i] === 0 ? 0 : trained.data[i];
    shard.edits++;
    this.servedLive = null;
    this.editActivations.push(this.activationOf(editInputs, shard.delta));
    return result;
  }

  /** Mean over the rows of `inputs` of ‖a·delta‖. */
  private activationOf(inputs: Tensor, delta: Float32Array): number {
    const change = noGrad(() => matmul(inputs, Tensor.from(delta, [this.inDim, this.outDim]))).data;
    return this.activationDistances(change, Int32Array.of(inputs.shape[0] - 1), inputs.shape[0])[0];
  }

  /** The merged side memory's delta: every merged shard, and the saved shards not merged yet merged in by TIES (null before any shard is saved). */
  private mergedDelta(): Tensor | null {
    if (this.merged === null && this.saved.length === 0) return null;
    this.servedMerged ??= new Tensor(this.withSavedMerged(this.merged), [this.inDim, this.outDim]);
    return this.servedMerged;
  }

  /** The live shard's delta, untrimmed (null before the first edit). */
  private liveDelta(): Tensor | null {
    if (this.live === null) return null;
    this.servedLive ??= Tensor.from(this.live.delta, [this.inDim, this.outDim]);
    return this.servedLive;
  }

  /** Δact at or above which an input runs on a side memory (Infinity before any edit). */
  get threshold(): number {
    return this.editActivations.length === 0 ? Infinity : this.config.actRatio * Math.min(...this.editActivations);
  }

  /** Each side memory's change to the site's output on every row of `input`: a·(W_side − W_main). */
  sideChanges(input: Tensor): SideChanges {
    const changeOf = (delta: Tensor | null) => (delta === null ? null : matmul(input, delta).data);
    return noGrad(() => ({ merged: changeOf(this.mergedDelta()), live: changeOf(this.liveDelta()) }));
  }

  /** `output` plus, on each sequence's rows, the change of the memory routed to it. */
  routeOutput(output: Tensor, changes: SideChanges, routes: readonly WiseRoute[]): Tensor {
    if (routes.every((r) => r === 'main')) return output;
    const out = Tensor.from(output.data, output.shape);
    const perSequence = output.size / routes.length;
    routes.forEach((route, b) => {
      const change = route === 'merged' ? changes.merged : route === 'live' ? changes.live : null;
      if (change === null) return;
      for (let i = b * perSequence; i < (b + 1) * perSequence; i++) out.data[i] += change[i];
    });
    return out;
  }

  /** Per sequence, its prompt's mean Δact: the mean norm of `change` over rows `b·T … queryRows[b]`. */
  activationDistances(change: Float32Array, queryRows: Int32Array, steps: number): number[] {
    const width = this.outDim;
    return Array.from(queryRows, (row, b) => {
      let sum = 0;
      for (let r = b * steps; r <= row; r++) {
        let squares = 0;
        for (let c = 0; c < width; c++) squares += change[r * width + c] * change[r * width + c];
        sum += Math.sqrt(squares);
      }
      return sum / (row - b * steps + 1);
    });
  }

  /** Per sequence, the memory that answers it: below the threshold on both side memories the main one, otherwise the side memory with the larger Δact. */
  routes(changes: SideChanges, queryRows: Int32Array, steps: number): WiseRoute[] {
    const threshold = this.threshold;
    if (!Number.isFinite(threshold)) return Array.from(queryRows, () => 'main');
    const distances = (change: Float32Array | null) => (change === null ? Array.from(queryRows, () => 0) : this.activationDistances(change, queryRows, steps));
    const merged = distances(changes.merged);
    const live = distances(changes.live);
    return merged.map((m, b) => (m < threshold && live[b] < threshold ? 'main' : m > live[b] ? 'merged' : 'live'));
  }

  session(queryRows: Int32Array): WiseSession {
    return new WiseSession(this, queryRows);
  }

  addedParameters(): number {
    return (this.live === null ? 1 : 2) * this.inDim * this.outDim;
  }
}

/** Clamps every entry of `data` to ±`bound`. */
function clamp(data: Float32Array, bound: number): void {
  for (let i = 0; i < data.length; i++) data[i] = Math.min(bound, Math.max(-bound, data[i]));
}

const identity = (v: number) => v;
const one = () => 1;

/**
 * WISE on one batch of inputs: the prompt pass routes each sequence by its
 * prompt's Δact to the side or the main memory, and decoding steps keep the
 * route.
 */
export class WiseSession extends InferenceSession<WiseRoute[]> {
  constructor(
    private readonly editor: WiseEditor,
    queryRows: Int32Array,
  ) {
    super(queryRows);
  }

  protected promptHooks(decide: (routes: WiseRoute[]) => void): Map<string, LinearHook> {
    return new Map([
      [
        this.editor.name,
        (input: Tensor, output: Tensor) => {
          // One product per memory serves the routing decision and the memory's answer.
          const changes = this.editor.sideChanges(input);
          const routes = this.editor.routes(changes, this.queryRows, input.shape[1]);
          decide(routes);
          return this.editor.routeOutput(output, changes, routes);
        },
      ],
    ]);
  }

  protected stepHooks(routes: WiseRoute[]): Map<string, LinearHook> {
    return new Map([
      [
        this.editor.name,
        (input: Tensor, output: Tensor) =>
          routes.every((r) => r === 'main') ? output : this.editor.routeOutput(output, this.editor.sideChanges(input), routes),
      ],
    ]);
  }
}
