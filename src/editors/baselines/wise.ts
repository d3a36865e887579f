/**
 * WISE (Wang et al., NeurIPS 2024, "WISE: Rethinking the Knowledge Memory
 * for Lifelong Model Editing of Large Language Models"): edits go into a
 * side memory, a copy of one FFN value matrix, while the main memory (the
 * model's own matrix) stays frozen. A router compares the two memories'
 * outputs: an input whose activation distance Δact(x) = mean over its prompt
 * tokens of ‖a_t·(W_side − W_main)‖ reaches a threshold runs on the side
 * memory, every other input on the main one.
 *
 * What is implemented, and where it departs from the paper:
 * - Side memory on the MLP output projection (GPT-2 `mlp.c_proj`, LLaMA
 *   `mlp.down_proj`; WISE's "value matrix") of ELDER's last edited block,
 *   kept as a delta W_side − W_main.
 * - Knowledge sharding: edits fill shards of `shardEdits` edits in turn;
 *   each shard trains only a random subspace of the delta (a mask of
 *   `maskRatio` of its entries, seeded), starting from the last merged
 *   memory. After `shardsPerMerge` shards, their deltas are merged by TIES
 *   (ties.ts, `density`) into the memory, and the next shards start from it.
 *   An input is always served by the memory with every shard so far merged
 *   in (the paper merges only at the end of a period; a stream measured
 *   midway would otherwise lose the unmerged shards).
 * - Edit loss: the LM loss on the target plus WISE's routing margins,
 *   ReLU(Δact(x_irr) − α) + ReLU(β − Δact(x_e)) + ReLU(γ − (Δact(x_e) −
 *   Δact(x_irr))), means over tokens. The irrelevant inputs x_irr are text
 *   sampled from the model itself (`irrelevantSamples` × `irrelevantTokens`,
 *   temperature 1, seeded) and, where the editor is given the training
 *   split's phrasings (`elder bench-edit` gives the records after the edited
 *   ones), `irrelevantPrompts` of them: as EasyEdit pairs each ZsRE edit
 *   with an unrelated question, never an evaluated prompt.
 * - Router threshold: `actRatio` × the smallest Δact of any edit when its
 *   training ended (EasyEdit's WISE).
 * - Optimiser: plain SGD at lr 1.0 as in the paper (through elder's one
 *   training loop), at most `iterations` steps, stopped early once the
 *   target is the argmax and every margin holds. α, β, γ (1, 5, 3) are
 *   ours: the paper's are set for a 4,096-wide LLaMA's MLP output, these for
 *   a 256-wide one.
 */
import { countHits, lossOnHidden } from '../../models/batch.js';
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
  /** Shards merged into the side memory at a time. */
  shardsPerMerge: number;
  /** TIES: share of each shard's nonzero entries kept before the sign election. */
  density: number;
  /** Router threshold as a share of the smallest edit's Δact. */
  actRatio: number;
  /** Margins α (irrelevant inputs below), β (edits above) and γ (their gap) on Δact. */
  marginIrrelevant: number;
  marginEdit: number;
  marginGap: number;
  /** Irrelevant inputs: texts sampled from the model, of this many tokens… */
  irrelevantSamples: number;
  irrelevantTokens: number;
  /** …and prompts drawn from the training split's phrasings, where the editor is given them. */
  irrelevantPrompts: number;
  seed: number;
}

export function defaultWiseConfig(model: DecoderLM, overrides: Partial<WiseConfig> = {}): WiseConfig {
  return {
    block: defaultSite(model).lastBlock,
    lr: 1.0,
    iterations: 50,
    maskRatio: 0.2,
    shardEdits: 250,
    shardsPerMerge: 4,
    density: 0.5,
    actRatio: 0.88,
    marginIrrelevant: 1,
    marginEdit: 5,
    marginGap: 3,
    irrelevantSamples: 8,
    irrelevantTokens: 16,
    irrelevantPrompts: 64,
    seed: 0,
    ...overrides,
  };
}

interface Shard {
  keep: Uint8Array;
  delta: Float32Array;
  edits: number;
}

export class WiseEditor implements Editor {
  readonly method = 'wise';
  /** Δact of each edit when its training ended. */
  readonly editActivations: number[] = [];
  readonly name: string;
  private readonly inDim: number;
  private readonly outDim: number;
  /** W_side − W_main with every merged shard, [inDim, outDim]. */
  private readonly merged: Float32Array;
  private shards: Shard[] = [];
  private served: Tensor | null = null;
  private readonly random: Random;
  /** The site's input rows on the irrelevant inputs: fixed, since nothing below the side memory changes. */
  private readonly irrelevant: Tensor;

  constructor(
    readonly model: DecoderLM,
    readonly config: WiseConfig,
    resources: EditorResources = {},
  ) {
    checkBlock(model.config, config.block, 'wise.block');
    const site = mlpOutputSite(model.config);
    ({ inDim: this.inDim, outDim: this.outDim } = siteShape(model, site, config.block));
    const size = this.inDim * this.outDim;
    const check = (ok: boolean, message: string) => {
      if (!ok) throw new UsageError(message);
    };
    for (const key of ['iterations', 'shardEdits', 'shardsPerMerge', 'irrelevantSamples', 'irrelevantTokens'] as const)
      check(Number.isInteger(config[key]) && config[key] >= 1, `wise.${key} must be a positive integer, got ${config[key]}`);
    check(
      Number.isInteger(config.irrelevantPrompts) && config.irrelevantPrompts >= 0,
      `wise.irrelevantPrompts must be an integer ≥ 0, got ${config.irrelevantPrompts}`,
    );
    for (const key of ['lr', 'actRatio', 'marginIrrelevant', 'marginEdit', 'marginGap'] as const)
      check(
        Number.isFinite(config[key]) && config[key] >= 0 && (key !== 'lr' || config[key] > 0),
        `wise.${key} must be a finite non-negative number, got ${config[key]}`,
      );
    check(config.maskRatio > 0 && config.maskRatio <= 1, `wise.maskRatio must be in (0, 1], got ${config.maskRatio}`);
    check(config.density > 0 && config.density <= 1, `wise.density must be in (0, 1], got ${config.density}`);
    check(config.shardsPerMerge <= size, `wise.shardsPerMerge ${config.shardsPerMerge} exceeds the ${size} entries of the side memory`);
    check(Math.round(config.maskRatio * size) >= 1, `wise.maskRatio ${config.maskRatio} leaves no entry of the ${size}-entry side memory to train`);
    this.name = model.linearName(config.block, site);
    this.merged = new Float32Array(size);
    this.random = new Random(config.seed);
    const sampled = samplePrefixes(model, config.irrelevantSamples, config.irrelevantTokens, config.seed).slice(1);
    const phrasings = resources.trainingPhrasings?.flat() ?? [];
    const drawn = this.random.sample(phrasings, Math.min(config.irrelevantPrompts, phrasings.length));
    this.irrelevant = this.siteInputs([...sampled, ...drawn]);
  }

  /** The site's input on every token of `sequences` (their rows, concatenated). */
  private siteInputs(sequences: readonly (readonly number[])[]): Tensor {
    const rows: Float32Array[] = [];
    for (const ids of sequences) {
      const prefix = frozenBlocks(this.model, { ids: Int32Array.from(ids), batch: 1, steps: ids.length }, this.config.block);
      noGrad(() =>
        this.model.runBlocks(prefix, this.config.block, this.config.block + 1, {
          hooks: new Map<string, LinearHook>([
            [
              this.name,
              (input, output) => {
                rows.push(input.data.slice());
                return output;
              },
            ],
          ]),
        }),
      );
    }
    const data = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
    let at = 0;
    for (const r of rows) {
      data.set(r, at);
      at += r.length;
    }
    return Tensor.from(data, [data.length / this.inDim, this.inDim]);
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    return eachEditAlone(edits, (edit) => this.applyOne(edit, onStep));
  }

  private currentShard(): Shard {
    const last = this.shards.at(-1);
    if (last !== undefined && last.edits < this.config.shardEdits) return last;
    if (this.shards.length === this.config.shardsPerMerge) this.mergeShards();
    const keep = new Uint8Array(this.merged.length);
    for (let i = 0; i < keep.length; i++) keep[i] = this.random.uniform() < this.config.maskRatio ? 1 : 0;
    const shard = { keep, delta: new Float32Array(this.merged.length), edits: 0 };
    this.shards.push(shard);
    return shard;
  }

  private mergeShards(): void {
    const merged = tiesMerge(
      this.shards.map((s) => s.delta),
      this.config.density,
    );
    for (let i = 0; i < merged.length; i++) this.merged[i] += merged[i];
    this.shards = [];
  }

  private applyOne(edit: TokenizedEdit, onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const shard = this.currentShard();
    const prepared = prepareBatch([edit], padTokenId(this.model.config));
    const prefix = frozenBlocks(this.model, prepared.tokens, this.config.block);
    const editInputs = this.siteInputs([edit.promptIds]);
    const base = Tensor.from(this.merged, [this.inDim, this.outDim]);
    const trained = Tensor.from(shard.delta, [this.inDim, this.outDim], true);
    const { marginIrrelevant: alpha, marginEdit: beta, marginGap: gamma } = this.config;
    let actLoss = 0;
    let editAct = 0;
    const result = trainLoop(
      [trained],
      { lr: this.config.lr, iterations: this.config.iterations, earlyStop: true, optimizer: 'sgd' },
      () => {
        const side = add(base, masked(trained, shard.keep));
        const hooks = new Map<string, LinearHook>([[this.name, (input, output) => add(output, matmul(input, side))]]);
        const hidden = this.model.finalNorm(this.model.runBlocks(prefix, this.config.block, this.model.config.layers, { hooks }));
        const { loss: lmLoss, predictions } = lossOnHidden(this.model, hidden, prepared.targets);
        const editNorms = rowL2Norms(matmul(editInputs, side));
        const irrelevantNorms = rowL2Norms(matmul(this.irrelevant, side));
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
        actLoss = margins.item();
        editAct = editMean.item();
        return {
          loss: add(lmLoss, margins),
          solved: () => actLoss === 0 && countHits(predictions, prepared.targets.targets) === prepared.targets.targets.length,
          parts: { model: lmLoss.item(), margins: actLoss },
        };
      },
      onStep,
      'the WISE',
    );
    for (let i = 0; i < shard.delta.length; i++) shard.delta[i] = shard.keep[i] === 0 ? 0 : trained.data[i];
    shard.edits++;
    this.editActivations.push(editAct);
    this.served = null;
    return result;
  }

  /** The side memory's delta as served: the merged memory with every shard so far merged in. */
  servedDelta(): Tensor {
    if (this.served === null) {
      const delta = this.merged.slice();
      if (this.shards.length > 0) {
        const pending = tiesMerge(
          this.shards.map((s) => s.delta),
          this.config.density,
        );
        for (let i = 0; i < delta.length; i++) delta[i] += pending[i];
      }
      this.served = Tensor.from(delta, [this.inDim, this.outDim]);
    }
    return this.served;
  }

  /** Δact at or above which an input runs on the side memory (Infinity before any edit). */
  get threshold(): number {
    return this.editActivations.length === 0 ? Infinity : this.config.actRatio * Math.min(...this.editActivations);
  }

  /** The side memory's change to the site's output on every row of `input`: a·(W_side − W_main). */
  sideChange(input: Tensor): Float32Array {
    return noGrad(() => matmul(input, this.servedDelta())).data;
  }

  /** `output` plus `change` on the rows of the sequences routed to the side memory. */
  routeOutput(output: Tensor, change: Float32Array, useSide: readonly boolean[]): Tensor {
    if (!useSide.some(Boolean)) return output;
    const out = Tensor.from(output.data, output.shape);
    const perSequence = output.size / useSide.length;
    useSide.forEach((side, b) => {
      if (!side) return;
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

  /** Per sequence, whether its prompt's Δact reaches the threshold (the side memory answers it). */
  routes(change: Float32Array, queryRows: Int32Array, steps: number): boolean[] {
    const threshold = this.threshold;
    if (!Number.isFinite(threshold)) return Array.from(queryRows, () => false);
    return this.activationDistances(change, queryRows, steps).map((distance) => distance >= threshold);
  }

  session(queryRows: Int32Array): WiseSession {
    return new WiseSession(this, queryRows);
  }

  addedParameters(): number {
    return this.inDim * this.outDim;
  }
}

const identity = (v: number) => v;
const one = () => 1;

/**
 * WISE on one batch of inputs: the prompt pass routes each sequence by its
 * prompt's Δact to the side or the main memory, and decoding steps keep the
 * route.
 */
export class WiseSession extends InferenceSession<boolean[]> {
  constructor(
    private readonly editor: WiseEditor,
    queryRows: Int32Array,
  ) {
    super(queryRows);
  }

  protected promptHooks(decide: (useSide: boolean[]) => void): Map<string, LinearHook> {
    return new Map([
      [
        this.editor.name,
        (input: Tensor, output: Tensor) => {
          // One product serves the routing decision and the side memory's answer.
          const change = this.editor.sideChange(input);
          const useSide = this.editor.routes(change, this.queryRows, input.shape[1]);
          decide(useSide);
          return this.editor.routeOutput(output, change, useSide);
        },
      ],
    ]);
  }

  protected stepHooks(useSide: boolean[]): Map<string, LinearHook> {
    return new Map([
      [
        this.editor.name,
        (input: Tensor, output: Tensor) => (useSide.some(Boolean) ? this.editor.routeOutput(output, this.editor.sideChange(input), useSide) : output),
      ],
    ]);
  }
}
