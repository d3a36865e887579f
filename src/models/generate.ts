/** Text continuation with a KV cache: greedy, or temperature with nucleus (top-p) sampling. */

import { selectRows } from '../tensor/ops/select.js';
import { noGrad } from '../tensor/tensor.js';
import { UsageError } from '../util/errors.js';
import { Random } from '../util/random.js';
import type { DecoderLM, ForwardOptions } from './decoder.js';

/** Where a generation's hooks come from: an editor's inference session (`InferenceSession` in `editors/common/session.ts`). */
export interface GenerationHooks {
  hooks(pass: 'prompt' | 'step'): ForwardOptions['hooks'];
}

export interface GenerateOptions {
  maxTokens: number;
  /** 0 (default) is greedy decoding. */
  temperature?: number;
  /** Nucleus mass kept when sampling (default 1: the whole distribution). */
  topP?: number;
  seed?: number;
  /** Token ids that end generation (default: the model's EOS ids). */
  stopIds?: readonly number[];
  /** An editor's inference session: its prompt hooks on the prompt, its step hooks on every new token. */
  session?: GenerationHooks;
  /** Called with each new token id as it is chosen. */
  onToken?: (id: number) => void;
}

export interface Generation {
  /** The new ids, the stop token that ended them included (see {@link answerIds}). */
  ids: number[];
  stoppedBy: 'eos' | 'max-tokens' | 'context';
}

/** Why a generation ended, as OpenAI-style APIs say it: `stop` at an end-of-text token, `length` at the token limit or the context. */
export type FinishReason = 'stop' | 'length';

export function finishReason(generation: Generation): FinishReason {
  return generation.stoppedBy === 'eos' ? 'stop' : 'length';
}

/** The ids a person reads: the generation without the end-of-text token that stopped it. */
export function answerIds(generation: Generation): number[] {
  return generation.stoppedBy === 'eos' ? generation.ids.slice(0, -1) : generation.ids;
}

/** Continues `promptIds`; returns only the new ids. */
export function generate(model: DecoderLM, promptIds: readonly number[], options: GenerateOptions): Generation {
  const temperature = options.temperature ?? 0;
  const topP = options.topP ?? 1;
  if (!(temperature >= 0)) throw new UsageError(`temperature must be ≥ 0, got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new UsageError(`top-p must be in (0, 1], got ${topP}`);
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 0)
    throw new UsageError(`max tokens must be a non-negative integer, got ${options.maxTokens}`);
  if (promptIds.length === 0) throw new UsageError('the prompt is empty');
  model.checkLength(promptIds.length);

  const stopIds = new Set(options.stopIds ?? model.config.eosTokenIds);
  const capacity = Math.min(model.config.contextLength, promptIds.length + options.maxTokens);
  const rng = new Random(options.seed ?? 0);
  const generated: number[] = [];

  return noGrad(() => {
    const caches = model.createCaches(1, capacity);
    let input = Int32Array.from(promptIds);
    let position = 0;
    for (;;) {
      if (generated.length >= options.maxTokens) return { ids: generated, stoppedBy: 'max-tokens' };
      if (position + input.length > capacity) return { ids: generated, stoppedBy: 'context' };
      const hooks = options.session?.hooks(position === 0 ? 'prompt' : 'step');
      const hidden = model.hiddenStates(input, 1, input.length, { caches, startPos: position, hooks });
      const logits = model.lmHead(selectRows(hidden, [input.length - 1])).data;
      position += input.length;
      const next = temperature === 0 ? argmax(logits) : sample(logits, temperature, topP, rng);
      generated.push(next);
      options.onToken?.(next);
      if (stopIds.has(next)) return { ids: generated, stoppedBy: 'eos' };
      if (position >= capacity) return { ids: generated, stoppedBy: generated.length >= options.maxTokens ? 'max-tokens' : 'context' };
      input = Int32Array.from([next]);
    }
  });
}

export function argmax(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    if (values[offset + i] > bestValue) {
      bestValue = values[offset + i];
      best = i;
    }
  }
  return best;
}

function sample(logits: Float32Array, temperature: number, topP: number, rng: Random): number {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const probs = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    probs[i] = Math.exp((logits[i] - max) / temperature);
    sum += probs[i];
  }
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]);
  // Keep the smallest prefix of most likely tokens whose mass reaches topP.
  let kept = 0;
  let mass = 0;
  while (kept < order.length && mass < topP * sum) mass += probs[order[kept++]];
  let draw = rng.uniform() * mass;
  for (let i = 0; i < kept; i++) {
    draw -= probs[order[i]];
    if (draw <= 0) return order[i];
  }
  return order[kept - 1];
}
