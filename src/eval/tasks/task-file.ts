/**
 * General tasks as `elder bench-edit --tasks` reads them: JSON lines, one
 * example per line, each naming its task and the task's kind.
 *
 *   {"task": "rte", "kind": "choice", "prompt": "…", "choices": [" True", " False"], "answer": 0}
 *   {"task": "nq", "kind": "exact", "prompt": "…", "answers": ["Paris"]}
 *   {"task": "gsm8k", "kind": "number", "prompt": "…", "answer": "18"}
 *   {"task": "samsum", "kind": "rouge", "prompt": "…", "reference": "…"}
 *   {"task": "conll03", "kind": "entities", "prompt": "…", "entityType": "PER", "entities": ["John Smith"]}
 *
 * - `choice`: the choice with the highest log-likelihood after the prompt
 *   is the answer (lm-evaluation-harness's accuracy); `answer` indexes
 *   `choices`.
 * - `exact`: the greedy answer's first line, normalised, equals one of
 *   `answers` (Natural Questions).
 * - `number`: the last number of the greedy answer's first line equals
 *   `answer`'s (GSM8K).
 * - `rouge`: the mean of ROUGE-1, ROUGE-2 and ROUGE-L F1 of the greedy
 *   answer's first paragraph against `reference` (SAMSum).
 * - `entities`: the entities of `entityType` the greedy answer lists against
 *   `entities`, scored by entity-level F1 over the whole task (CoNLL-03).
 * `maxTokens` (optional) caps the greedy answer. Every line of every file
 * is checked before any model work; a problem names the file, the line and
 * the field.
 */
import { InputError } from '../../util/errors.js';

export const TASK_KINDS = ['choice', 'exact', 'number', 'rouge', 'entities'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

interface ExampleBase {
  prompt: string;
  /** Greedy tokens generated (generation kinds). */
  maxTokens?: number;
}

export type TaskExample =
  | (ExampleBase & { kind: 'choice'; choices: string[]; answer: number })
  | (ExampleBase & { kind: 'exact'; answers: string[] })
  | (ExampleBase & { kind: 'number'; answer: string })
  | (ExampleBase & { kind: 'rouge'; reference: string })
  | (ExampleBase & { kind: 'entities'; entityType: string; entities: string[] });

export interface Task {
  name: string;
  kind: TaskKind;
  /** Where its examples came from (files). */
  source: string;
  examples: TaskExample[];
}

/** Greedy tokens per kind when an example does not say. */
export const DEFAULT_MAX_TOKENS: Readonly<Record<Exclude<TaskKind, 'choice'>, number>> = { exact: 16, number: 16, rouge: 64, entities: 16 };

/** The tasks of one JSONL file, grouped by name in order of first appearance; one bad line refuses the file. */
export function parseTaskLines(text: string, file: string): Task[] {
  const tasks = new Map<string, Task>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}: line ${i + 1}`;
    const record = jsonObject(line, where);
    const name = requireString(record, 'task', where);
    const example = exampleOf(record, where);
    const task = tasks.get(name) ?? { name, kind: example.kind, source: file, examples: [] };
    if (task.kind !== example.kind) throw new InputError(`${where}: "kind" is "${example.kind}", but task "${name}" is "${task.kind}" on an earlier line`);
    task.examples.push(example);
    tasks.set(name, task);
  });
  if (tasks.size === 0) throw new InputError(`${file}: no examples`);
  return [...tasks.values()];
}

/** `text` parsed as one JSON object; `where` names it in the refusal. */
export function jsonObject(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${where}: not JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${where}: expected a JSON object`);
  return value as Record<string, unknown>;
}

function exampleOf(record: Record<string, unknown>, where: string): TaskExample {
  const kind = record.kind;
  if (typeof kind !== 'string' || !(TASK_KINDS as readonly string[]).includes(kind))
    throw new InputError(`${where}: "kind" must be one of ${TASK_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  const prompt = requireString(record, 'prompt', where);
  const maxTokens = record.maxTokens;
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && (maxTokens as number) >= 1))
    throw new InputError(`${where}: "maxTokens" must be a positive integer, got ${JSON.stringify(maxTokens)}`);
  const base: ExampleBase = maxTokens === undefined ? { prompt } : { prompt, maxTokens: maxTokens as number };
  switch (kind as TaskKind) {
    case 'choice': {
      const choices = requireStrings(record, 'choices', where, 2);
      const answer = record.answer;
      if (!Number.isInteger(answer) || (answer as number) < 0 || (answer as number) >= choices.length)
        throw new InputError(`${where}: "answer" must index "choices" (0 to ${choices.length - 1}), got ${JSON.stringify(answer)}`);
      return { ...base, kind: 'choice', choices, answer: answer as number };
    }
    case 'exact':
      return { ...base, kind: 'exact', answers: requireStrings(record, 'answers', where, 1) };
    case 'number': {
      const answer = record.answer;
      const text = typeof answer === 'number' ? String(answer) : answer;
      if (typeof text !== 'string' || !/\d/.test(text)) throw new InputError(`${where}: "answer" must be a number, got ${JSON.stringify(answer)}`);
      return { ...base, kind: 'number', answer: text };
    }
    case 'rouge':
      return { ...base, kind: 'rouge', reference: requireString(record, 'reference', where) };
    case 'entities': {
      const entities = record.entities;
      if (!Array.isArray(entities) || !entities.every((e) => typeof e === 'string' && e.trim() !== ''))
        throw new InputError(`${where}: "entities" must be a list of non-empty strings (possibly empty), got ${JSON.stringify(entities)}`);
      return { ...base, kind: 'entities', entityType: requireString(record, 'entityType', where), entities: entities as string[] };
    }
  }
}

function requireString(record: Record<string, unknown>, field: string, where: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value.trim() === '') throw new InputError(`${where}: "${field}" must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

function requireStrings(record: Record<string, unknown>, field: string, where: string, least: number): string[] {
  const value = record[field];
  if (!Array.isArray(value) || value.length < least || !value.every((v) => typeof v === 'string' && v !== ''))
    throw new InputError(`${where}: "${field}" must be a list of at least ${least} non-empty strings, got ${JSON.stringify(value)}`);
  return value as string[];
}
