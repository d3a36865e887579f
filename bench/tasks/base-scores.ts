/**
 * The base model's score on each general task beside chance, so that a task
 * the model cannot do is seen before it is used to measure retention:
 *
 *   node dist/bench/tasks/base-scores.js [--model DIR] [--tasks PATHS] [--limit N]
 *
 * Chance: 1 / choices for a choice task; for ROUGE, each generation scored
 * against another example's reference (the same texts, unrelated pairs);
 * 0 for exact match and numbers.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { greedyText } from '../../src/eval/metrics.js';
import { readTasks } from '../../src/eval/tasks/read-tasks.js';
import { scoreTasks } from '../../src/eval/tasks/run-tasks.js';
import type { Task } from '../../src/eval/tasks/task-file.js';
import { resolveModelDir } from '../../src/models/default-model.js';
import { loadModel } from '../../src/models/load.js';
import { requireTokenizer } from '../../src/models/tokenizer.js';
import { packageRoot } from '../../src/tensor/backends/native.js';
import { meanRouge } from '../../src/text/task-metrics.js';

const { values } = parseArgs({ args: process.argv.slice(2), options: { model: { type: 'string' }, tasks: { type: 'string' }, limit: { type: 'string' } } });
const modelDir = resolveModelDir(values.model);
const paths = (values.tasks ?? path.join(packageRoot(), 'bench', 'data', 'facts', 'general-tasks.jsonl')).split(',');
const tasks = readTasks(paths, values.limit === undefined ? undefined : Number(values.limit));
const { model, tokenizer } = loadModel(modelDir);
const tok = requireTokenizer(tokenizer, modelDir);

function chance(task: Task): number {
  const examples = task.examples;
  if (task.kind === 'choice') return examples.reduce((sum, e) => sum + (e.kind === 'choice' ? 1 / e.choices.length : 0), 0) / examples.length;
  if (task.kind !== 'rouge') return 0;
  const generate = greedyText(model, null, tok);
  const answers = examples.map((e) => generate(tok.encode(e.prompt), e.maxTokens ?? 64));
  return (
    answers.reduce((sum, answer, i) => {
      const other = examples[(i + 1) % examples.length];
      return sum + (other.kind === 'rouge' ? meanRouge(answer.trimStart().split('\n\n')[0], other.reference) : 0);
    }, 0) / examples.length
  );
}

const scores = scoreTasks(tasks, model, null, tok);
console.log(`Model ${modelDir}; tasks ${paths.join(', ')}\n`);
console.log('| Task | Kind | Examples | Base model | Chance |');
console.log('|---|---|---:|---:|---:|');
tasks.forEach((task, i) => {
  console.log(`| ${task.name} | ${task.kind} | ${task.examples.length} | ${(100 * scores[i].score).toFixed(1)} | ${(100 * chance(task)).toFixed(1)} |`);
});
