/**
 * MELO (Yu et al., AAAI 2024): neuron-indexed dynamic LoRA. Every batch of
 * edits gets its own LoRA block (rank r_b) on the edited linear of each
 * edited block; the batch's keys go into a vector database pointing to that
 * block. At inference the input's key is looked up: within the radius of a
 * stored key, that key's block is switched on; otherwise no block is, and the
 * input runs the base model.
 *
 * As the reference code (ECNU-ICALK/MELO, GPT2-XL settings) runs it:
 * - blocks of rank r_b = 2 (`num_rank_per_block`) in one dynamic LoRA sized
 *   for `capacity` = 350 blocks (`num_block`), α = its total rank R, and
 *   each block's A and B slices scaled by √(R / r_b): a block's product
 *   x·A·B is scaled by R / r_b = `capacity`; A drawn as PyTorch's
 *   kaiming-uniform on the [in, R] matrix (±1/√R), B zero;
 * - Adam at the edit learning rate 1e-3 (`edit_lr`; the `lr` of
 *   `alg/lora.yaml` is never read by editing), StepLR(20, 0.5), 50 iterations.
 *   (On 12 sequential capital edits, bench/data/facts/capitals-12.json, every
 *   edited prompt holds; at lr 1e-4 without the scale none did.)
 * Deviations:
 * - The key is ELDER's router query (the input of the edited linear one
 *   block below the first edited one, at the last prompt token), so that
 *   MELO and ELDER index edits by the same representation; the reference
 *   reads the output of that linear at the last token. The edited blocks are
 *   ELDER's (the reference edits two, 36–37 of GPT2-XL's 48).
 * - The database is one key per edit with a fixed Euclidean radius (1.0 in
 *   activation units), not the reference's clusters, whose radii grow with
 *   same-label keys and split on a conflict.
 */
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { add } from '../../tensor/ops/arithmetic.js';
import { type LoraExpert, routedLora } from '../../tensor/ops/lora.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { Random } from '../../util/random.js';
import { padTokenId, prepareBatch } from '../common/batch.js';
import { InferenceSession } from '../common/session.js';
import { blockRange, defaultSite, type EditSite, siteShape } from '../common/sites.js';
import type { TokenizedEdit } from '../edit.js';
import { type Editor, frozenBlocks, rowCapture, type StepReport, trainThroughHooks } from '../editor.js';
import { KeyStore } from './keys.js';
import { newAdapter } from './lora.js';

export interface MeloConfig extends EditSite {
  /** Rank of each batch's block (the reference's num_rank_per_block). */
  blockRank: number;
  /** Blocks the dynamic LoRA is sized for (num_block): with α its total rank, each block's product is scaled by this. */
  capacity: number;
  /** Euclidean radius around a stored key, in activation units. */
  radius: number;
  lr: number;
  iterations: number;
  seed: number;
}

export function defaultMeloConfig(model: DecoderLM, overrides: Partial<MeloConfig> = {}): MeloConfig {
  return { ...defaultSite(model), blockRank: 2, capacity: 350, radius: 1.0, lr: 1e-3, iterations: 50, seed: 0, ...overrides };
}

/** The reference's scheduler: StepLR(step_size=20, gamma=0.5), stepped every iteration. */
const STEP_LR = { every: 20, factor: 0.5 };

export class MeloEditor implements Editor {
  readonly method = 'melo';
  readonly keys: KeyStore;
  /** Block index of each stored key. */
  readonly keyBlocks: number[] = [];
  /** Per edited linear, one adapter per block. */
  readonly blocks: Array<{ block: number; name: string; adapters: LoraExpert[] }>;
  /** The linear whose input at the last prompt token is the key (one block below the first edited one). */
  readonly querySite: string;
  private readonly rng: Random;

  constructor(
    readonly model: DecoderLM,
    readonly config: MeloConfig,
  ) {
    this.querySite = model.linearName(config.firstBlock - 1, config.site);
    this.keys = new KeyStore(siteShape(model, config.site, config.firstBlock - 1).inDim);
    this.blocks = blockRange(config).map((block) => ({ block, name: model.linearName(block, config.site), adapters: [] }));
    this.rng = new Random(config.seed);
  }

  get blockCount(): number {
    return this.blocks[0].adapters.length;
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const prepared = prepareBatch(edits, padTokenId(this.model.config));
    const block = this.blockCount;
    const params: Tensor[] = [];
    for (const { block, adapters } of this.blocks) {
      const { inDim, outDim } = siteShape(this.model, this.config.site, block);
      // PyTorch's kaiming-uniform on the whole [in, R] matrix bounds every entry by 1/√R.
      const adapter = newAdapter(inDim, outDim, this.config.blockRank, this.rng, 1 / Math.sqrt(this.config.capacity * this.config.blockRank));
      adapters.push(adapter);
      params.push(adapter.A, adapter.B);
    }
    // Keys: the query site's input at each edit's last prompt token, read on the frozen pass the training reuses.
    const { hooks: capture, captured } = rowCapture(this.querySite, prepared.queryRows);
    const prefix = frozenBlocks(this.model, prepared.tokens, this.config.firstBlock, capture);
    const keys = captured.input!.data;
    for (let b = 0; b < edits.length; b++) {
      this.keys.add(keys.subarray(b * this.keys.width, (b + 1) * this.keys.width));
      this.keyBlocks.push(block);
    }
    const chosen = new Array<number>(edits.length).fill(block);
    const training = { lr: this.config.lr, iterations: this.config.iterations, stepDecay: STEP_LR };
    return trainThroughHooks(this.model, prepared, prefix, this.config.firstBlock, params, () => this.blockHooks(() => chosen), training, onStep);
  }

  /** Hooks applying block chosen()[b] (−1: none) to sequence b at every edited linear. */
  blockHooks(chosen: () => number[]): Map<string, LinearHook> {
    // (α / R) · (√(R / r_b))² with α = R.
    const scale = this.config.capacity;
    const hooks = new Map<string, LinearHook>();
    for (const { name, adapters } of this.blocks) {
      hooks.set(name, (input, output) => {
        const picks = chosen();
        if (picks.every((p) => p < 0)) return output;
        const gates = Tensor.zeros([picks.length, adapters.length]);
        picks.forEach((p, b) => {
          if (p >= 0) gates.data[b * adapters.length + p] = 1;
        });
        const selection = Int32Array.from(picks, (p) => Math.max(p, 0));
        return add(output, routedLora(input, adapters, gates, selection, 1, scale));
      });
    }
    return hooks;
  }

  session(queryRows: Int32Array): MeloSession {
    return new MeloSession(this, queryRows);
  }

  /** The block of the stored key nearest each query row, or −1 outside the radius. */
  lookupBlocks(input: Tensor, queryRows: Int32Array): number[] {
    const width = this.keys.width;
    const keys = selectRows(input, queryRows).data;
    return Array.from(queryRows, (_, b) => {
      const nearest = this.keys.nearest(keys.subarray(b * width, (b + 1) * width));
      return nearest.index >= 0 && nearest.distance <= this.config.radius ? this.keyBlocks[nearest.index] : -1;
    });
  }

  /** Inference hooks applying block chosen[b] (−1: none) to sequence b, without gradients. */
  appliedHooks(chosen: () => number[]): Map<string, LinearHook> {
    const hooks = new Map<string, LinearHook>();
    for (const [name, hook] of this.blockHooks(chosen)) hooks.set(name, (input, output) => noGrad(() => hook(input, output)));
    return hooks;
  }

  addedParameters(): number {
    let count = this.keys.size * this.keys.width;
    for (const { adapters } of this.blocks) for (const { A, B } of adapters) count += A.size + B.size;
    return count;
  }
}

/**
 * MELO on one batch of inputs: the prompt pass looks each sequence's query
 * up among the stored keys (at the query site, below the edited blocks) and
 * picks that key's adapter block; every pass then applies the picked block.
 */
export class MeloSession extends InferenceSession<number[]> {
  constructor(
    private readonly editor: MeloEditor,
    queryRows: Int32Array,
  ) {
    super(queryRows);
  }

  protected promptHooks(decide: (chosen: number[]) => void): Map<string, LinearHook> {
    let chosen: number[] = [];
    const hooks = this.editor.appliedHooks(() => chosen);
    hooks.set(this.editor.querySite, (input, output) => {
      chosen = this.editor.lookupBlocks(input, this.queryRows);
      decide(chosen);
      return output;
    });
    return hooks;
  }

  protected stepHooks(chosen: number[]): Map<string, LinearHook> {
    return this.editor.appliedHooks(() => chosen);
  }
}
