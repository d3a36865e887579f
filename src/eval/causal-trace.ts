/**
 * Causal tracing (Meng et al., ROME §2.1): where a model recalls a fact.
 * The subject's token embeddings are corrupted with Gaussian noise (3× the
 * embeddings' standard deviation), which makes the model lose the answer;
 * then one state of the clean run is restored (a block's MLP output, or its
 * attention output, at the subject's last token) and the answer's
 * probability measured again. The indirect effect of a state is how much of
 * the answer restoring it alone brings back, averaged over facts and noise
 * samples. ROME edits the block whose MLP has the largest effect.
 *
 * States are restored in a window of blocks around the block traced, as ROME
 * restores 10 of GPT-2 XL's 48.
 */
import type { DecoderLM, LinearHook } from '../models/decoder.js';
import { selectRows } from '../tensor/ops/select.js';
import { softmax } from '../tensor/ops/softmax.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import { UsageError } from '../util/errors.js';
import { Random } from '../util/random.js';

/** One fact to trace: its prompt's ids, the subject's last token in them and its first, and the answer's first token. */
export interface TraceFact {
  promptIds: readonly number[];
  subjectStart: number;
  subjectEnd: number;
  answerId: number;
}

export interface TraceOptions {
  /** Noise samples per fact (ROME: 10). */
  samples: number;
  /** Noise standard deviation as a multiple of the embeddings' (ROME: 3). */
  noiseScale: number;
  /** Blocks restored together, centred on the block traced (ROME: 10 of GPT-2 XL's 48). */
  window: number;
  seed: number;
}

export interface TraceResult {
  facts: number;
  samples: number;
  window: number;
  noiseStd: number;
  /** Mean probability of the answer in the clean run, and with the subject corrupted. */
  clean: number;
  corrupted: number;
  /** Per block, the mean indirect effect of restoring its MLP output and its attention output at the subject's last token. */
  blocks: Array<{ block: number; mlp: number; attention: number }>;
  /** The block whose MLP has the largest mean indirect effect. */
  strongestMlpBlock: number;
}

/** The linears whose outputs tracing restores: the MLP's and the attention's output projections. */
function tracedSites(model: DecoderLM): { mlp: string; attention: string } {
  return { mlp: model.modules.mlpOutput, attention: model.modules.attentionOutput };
}

/** Standard deviation of the token embedding table's entries. */
function embeddingStd(model: DecoderLM): number {
  const table = model.parameters.get(model.modules.tokenEmbedding);
  if (table === undefined) throw new UsageError('causal tracing needs the token embedding table');
  let sum = 0;
  let squares = 0;
  for (const v of table.data) {
    sum += v;
    squares += v * v;
  }
  const mean = sum / table.size;
  return Math.sqrt(squares / table.size - mean * mean);
}

export function causalTrace(model: DecoderLM, facts: readonly TraceFact[], options: TraceOptions, onFact?: (done: number) => void): TraceResult {
  if (facts.length === 0) throw new UsageError('causal tracing needs at least one fact with its subject in the prompt');
  const sites = tracedSites(model);
  const layers = model.config.layers;
  const noiseStd = options.noiseScale * embeddingStd(model);
  const rng = new Random(options.seed);
  const mlp = new Float64Array(layers);
  const attention = new Float64Array(layers);
  let clean = 0;
  let corrupted = 0;
  noGrad(() => {
    facts.forEach((fact, f) => {
      const steps = fact.promptIds.length;
      const S = options.samples;
      const ids = new Int32Array(S * steps);
      for (let s = 0; s < S; s++) ids.set(fact.promptIds, s * steps);
      const lastRows = Int32Array.from({ length: S }, (_, s) => s * steps + steps - 1);
      const subjectRows = Int32Array.from({ length: S }, (_, s) => s * steps + fact.subjectEnd);
      // The clean run: the answer's probability, and every traced state at the subject's last token.
      const states = new Map<string, Float32Array>();
      const capture = new Map<string, LinearHook>();
      for (let block = 0; block < layers; block++) {
        for (const site of [sites.mlp, sites.attention]) {
          const name = model.linearName(block, site);
          capture.set(name, (_input, output) => {
            states.set(name, output.data.slice(fact.subjectEnd * output.lastDim, (fact.subjectEnd + 1) * output.lastDim));
            return output;
          });
        }
      }
      clean += answerProbability(model, model.embed(Int32Array.from(fact.promptIds), 1, steps, 0), Int32Array.of(steps - 1), fact.answerId, capture);
      // One noise draw per sample, shared by every restoration of this fact.
      const embedded = model.embed(ids, S, steps, 0);
      const width = embedded.lastDim;
      for (let s = 0; s < S; s++) {
        for (let t = fact.subjectStart; t <= fact.subjectEnd; t++) {
          const off = (s * steps + t) * width;
          for (let c = 0; c < width; c++) embedded.data[off + c] += noiseStd * rng.normal();
        }
      }
      const base = answerProbability(model, embedded, lastRows, fact.answerId, new Map());
      corrupted += base;
      for (let block = 0; block < layers; block++) {
        for (const [site, effects] of [
          [sites.mlp, mlp],
          [sites.attention, attention],
        ] as const) {
          const restore = new Map<string, LinearHook>();
          for (const restored of windowAround(block, options.window, layers)) {
            const name = model.linearName(restored, site);
            const state = states.get(name)!;
            restore.set(name, (_input, output) => {
              for (const row of subjectRows) output.data.set(state, row * output.lastDim);
              return output;
            });
          }
          effects[block] += answerProbability(model, embedded, lastRows, fact.answerId, restore) - base;
        }
      }
      onFact?.(f + 1);
    });
  });
  const n = facts.length;
  const blocks = Array.from({ length: layers }, (_, block) => ({ block, mlp: mlp[block] / n, attention: attention[block] / n }));
  const strongestMlpBlock = blocks.reduce((best, b) => (b.mlp > best.mlp ? b : best), blocks[0]).block;
  return { facts: n, samples: options.samples, window: options.window, noiseStd, clean: clean / n, corrupted: corrupted / n, blocks, strongestMlpBlock };
}

/** The `window` blocks centred on `block` (ROME: max(0, l − w/2) … min(L, l + w/2) − 1), clipped to the model. */
export function windowAround(block: number, window: number, layers: number): number[] {
  const first = Math.max(0, block - Math.floor(window / 2));
  const last = Math.min(layers - 1, first + window - 1);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** Mean probability of `answerId` at `rows` after running every block on `embedded` with `hooks`. */
function answerProbability(model: DecoderLM, embedded: Tensor, rows: Int32Array, answerId: number, hooks: Map<string, LinearHook>): number {
  const hidden = model.finalNorm(model.runBlocks(embedded, 0, model.config.layers, { hooks }));
  const probs = softmax(model.lmHead(selectRows(hidden, rows)));
  let total = 0;
  for (let r = 0; r < probs.rows; r++) total += probs.data[r * probs.lastDim + answerId];
  return total / probs.rows;
}
