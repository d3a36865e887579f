/**
 * The metrics every method is measured with, through the same code path,
 * besides teacher-forced target accuracy (editors/common/scoring.ts, shared
 * with the state's holds check):
 * - greedy continuations, compared with the base model's for locality;
 * - next-token loss on general text (retention as perplexity).
 */

import type { Editor } from '../editors/editor.js';
import type { DecoderLM } from '../models/decoder.js';
import { answerIds, type Generation, generate } from '../models/generate.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { crossEntropy } from '../tensor/ops/crossentropy.js';
import { selectRows } from '../tensor/ops/select.js';
import { noGrad } from '../tensor/tensor.js';

/** Greedy continuation of each prompt (`maxTokens` new tokens, stopping at EOS) under `editor` (null: base). */
export function greedyContinuations(model: DecoderLM, editor: Editor | null, prompts: readonly number[][], maxTokens: number): number[][] {
  return prompts.map((ids) => greedyGeneration(model, editor, ids, maxTokens).ids);
}

/** Greedy text of a prompt under `editor` (null: the base model), as a person reads it: without the end-of-text token. */
export function greedyText(model: DecoderLM, editor: Editor | null, tokenizer: TextTokenizer): (promptIds: readonly number[], tokens: number) => string {
  return (promptIds, tokens) => tokenizer.decode(answerIds(greedyGeneration(model, editor, promptIds, tokens)));
}

/** One greedy generation through a fresh session of `editor` (null: the base model). */
function greedyGeneration(model: DecoderLM, editor: Editor | null, promptIds: readonly number[], maxTokens: number): Generation {
  const session = editor?.session(Int32Array.of(promptIds.length - 1));
  return generate(model, promptIds, { maxTokens, session });
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export function rate(flags: readonly boolean[]): number {
  return mean(flags.map((flag) => (flag ? 1 : 0)));
}

/**
 * Mean next-token loss (nats) over equal-length windows of token ids under
 * `editor` (null: base). Each window is one input, routed as a whole from its
 * last token as any prompt is, then scored at every position.
 */
export function textLoss(model: DecoderLM, editor: Editor | null, windows: readonly (readonly number[])[], batchSize = 8): number {
  let total = 0;
  let count = 0;
  for (let start = 0; start < windows.length; start += batchSize) {
    const chunk = windows.slice(start, start + batchSize);
    const steps = chunk[0].length;
    if (chunk.some((w) => w.length !== steps) || steps < 2) throw new RangeError('textLoss: windows must share one length of at least 2 tokens');
    const ids = Int32Array.from(chunk.flat());
    const lastRows = Int32Array.from(chunk, (_, b) => b * steps + steps - 1);
    const rows = Int32Array.from({ length: chunk.length * (steps - 1) }, (_, i) => Math.floor(i / (steps - 1)) * steps + (i % (steps - 1)));
    const targets = Int32Array.from(rows, (row) => ids[row + 1]);
    const hooks = editor?.session(lastRows).hooks('prompt');
    const { rowLosses } = noGrad(() => crossEntropy(model.lmHead(selectRows(model.hiddenStates(ids, chunk.length, steps, { hooks }), rows)), targets));
    for (const loss of rowLosses) total += loss;
    count += rowLosses.length;
  }
  return total / count;
}
