/**
 * Scores general tasks on a model, edited (through an editor's sessions) or
 * not (editor null), as task-file.ts describes each kind: a choice by the
 * summed log-likelihood of each choice's tokens after the prompt, the rest
 * from greedy answers. A prompt longer than the context keeps its end: the
 * question or instruction a prompt closes with is what the model answers.
 */
import { padTokenId, prepareBatch } from '../../editors/common/batch.js';
import type { Editor } from '../../editors/editor.js';
import type { ModelConfig } from '../../models/config.js';
import type { DecoderLM } from '../../models/decoder.js';
import type { TextTokenizer } from '../../models/tokenizer.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad } from '../../tensor/tensor.js';
import { entityMatches, exactMatch, finalNumberMatches, listedEntities, meanRouge } from '../../text/task-metrics.js';
import { greedyText } from '../metrics.js';
import { DEFAULT_MAX_TOKENS, type Task, type TaskExample } from './task-file.js';

export interface TaskScore {
  task: string;
  kind: Task['kind'];
  examples: number;
  /** Accuracy (choice, exact, number), mean ROUGE (rouge) or entity-level F1 (entities), in [0, 1]. */
  score: number;
}

/** Scores every task; `onExample` is told after each example (for progress). */
export function scoreTasks(tasks: readonly Task[], model: DecoderLM, editor: Editor | null, tokenizer: TextTokenizer, onExample?: () => void): TaskScore[] {
  const generate = greedyText(model, editor, tokenizer);
  return tasks.map((task) => {
    const results = task.examples.map((example) => {
      const result = scoreExample(example, model, editor, tokenizer, generate);
      onExample?.();
      return result;
    });
    return { task: task.name, kind: task.kind, examples: task.examples.length, score: aggregate(task.kind, results) };
  });
}

/** One example's result: right or wrong, a ROUGE score, or entity counts. */
type ExampleResult = { correct: boolean } | { value: number } | { hits: number; predicted: number; gold: number };

function scoreExample(
  example: TaskExample,
  model: DecoderLM,
  editor: Editor | null,
  tokenizer: TextTokenizer,
  generate: (promptIds: readonly number[], tokens: number) => string,
): ExampleResult {
  if (example.kind === 'choice') return { correct: bestChoice(example.prompt, example.choices, model, editor, tokenizer) === example.answer };
  const tokens = example.maxTokens ?? DEFAULT_MAX_TOKENS[example.kind];
  const promptIds = fitToContext(tokenizer.encode(example.prompt), tokens, model.config);
  const answer = generate(promptIds, tokens);
  const firstLine = answer.trimStart().split('\n')[0];
  switch (example.kind) {
    case 'exact':
      return { correct: exactMatch(firstLine, example.answers) };
    case 'number':
      return { correct: finalNumberMatches(firstLine, example.answer) };
    case 'rouge':
      return { value: meanRouge(answer.trimStart().split('\n\n')[0], example.reference) };
    case 'entities': {
      const predicted = listedEntities(answer, example.entityType);
      const gold = example.entities.map((text) => ({ type: example.entityType, text }));
      return { hits: entityMatches(predicted, gold), predicted: predicted.length, gold: gold.length };
    }
  }
}

function aggregate(kind: Task['kind'], results: readonly ExampleResult[]): number {
  if (results.length === 0) return NaN;
  if (kind === 'entities') {
    const total = { hits: 0, predicted: 0, gold: 0 };
    for (const r of results as Array<{ hits: number; predicted: number; gold: number }>) {
      total.hits += r.hits;
      total.predicted += r.predicted;
      total.gold += r.gold;
    }
    // Micro F1 over the task: 2·hits / (predicted + gold); nothing to find and nothing claimed is 1.
    if (total.predicted + total.gold === 0) return 1;
    return (2 * total.hits) / (total.predicted + total.gold);
  }
  if (kind === 'rouge') return (results as Array<{ value: number }>).reduce((sum, r) => sum + r.value, 0) / results.length;
  return (results as Array<{ correct: boolean }>).filter((r) => r.correct).length / results.length;
}

/** The index of the choice whose tokens are likeliest after the prompt (ties: the first). */
export function bestChoice(prompt: string, choices: readonly string[], model: DecoderLM, editor: Editor | null, tokenizer: TextTokenizer): number {
  const promptIds = tokenizer.encode(prompt);
  const items = choices.map((choice) => {
    const continuation = continuationIds(tokenizer, model.config, prompt, promptIds, choice);
    return { promptIds: fitToContext(promptIds, continuation.length, model.config), targetIds: continuation };
  });
  const prepared = prepareBatch(items, padTokenId(model.config));
  const hooks = editor?.session(prepared.queryRows).hooks('prompt');
  const logits = noGrad(() => {
    const hidden = model.hiddenStates(prepared.tokens.ids, prepared.tokens.batch, prepared.tokens.steps, { hooks });
    return model.lmHead(selectRows(hidden, prepared.targets.rows));
  });
  const vocab = logits.lastDim;
  const data = logits.data;
  let row = 0;
  let best = 0;
  let bestScore = -Infinity;
  items.forEach((item, c) => {
    let score = 0;
    for (const target of item.targetIds) {
      score += logSoftmaxAt(data, row * vocab, vocab, target);
      row++;
    }
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  });
  return best;
}

/** log softmax(row)[index] of one row of logits. */
function logSoftmaxAt(data: Float32Array, offset: number, width: number, index: number): number {
  let max = -Infinity;
  for (let j = 0; j < width; j++) max = Math.max(max, data[offset + j]);
  let sum = 0;
  for (let j = 0; j < width; j++) sum += Math.exp(data[offset + j] - max);
  return data[offset + index] - max - Math.log(sum);
}

/** The tokens `continuation` adds after `prompt`, as the tokenizer splits the two together (without a start token). */
function continuationIds(tokenizer: TextTokenizer, config: ModelConfig, prompt: string, promptIds: readonly number[], continuation: string): number[] {
  const full = tokenizer.encode(prompt + continuation);
  if (full.length > promptIds.length && promptIds.every((id, i) => full[i] === id)) return full.slice(promptIds.length);
  const alone = tokenizer.encode(continuation);
  while (alone.length > 0 && alone[0] === config.bosTokenId) alone.shift();
  return alone;
}

/** The prompt's last tokens, leaving room for `room` more within the context. */
function fitToContext(promptIds: readonly number[], room: number, config: ModelConfig): number[] {
  const keep = Math.max(1, config.contextLength - room);
  return promptIds.length <= keep ? [...promptIds] : promptIds.slice(promptIds.length - keep);
}
