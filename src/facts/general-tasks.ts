/**
 * General tasks for elder-facts, the default model: ordinary jobs it learned
 * in pretraining that no record of the facts benchmark edits, in the task
 * JSONL of `elder bench-edit --tasks` (eval/tasks/task-file.ts).
 *
 * The facts are the benchmark's locality facts: set aside when it was built,
 * never edited by any record (benchmark.ts). They are found again as the
 * locality prompts that carry an answer, matched to the fact table.
 * - `facts-qa` (exact): a fact asked in a held-out phrasing, the closed-book
 *   question of Natural Questions' kind.
 * - `facts-choice` (choice): a fact's object among four of its relation, in
 *   the phrasing the model knows it in (every relation but WordNet's).
 * - `wordnet-category` (choice): a noun's WordNet category among four.
 * Deterministic for a given table, benchmark and seed. Tasks the model does
 * no better than chance at are not kept (docs/evaluation.md lists those
 * tried).
 */
import path from 'node:path';
import { packageRoot } from '../tensor/backends/native.js';
import { Random } from '../util/random.js';
import type { Fact } from './sources.js';
import { type FactTable, factPrompt, type RelationTable } from './table.js';

export interface GeneralTaskOptions {
  seed: number;
  /** Examples per task, at most. */
  perTask: number;
}

export const DEFAULT_GENERAL_TASK_OPTIONS: GeneralTaskOptions = { seed: 2026, perTask: 200 };

/** Where elder-facts' general tasks ship. */
export function defaultGeneralTasksPath(): string {
  return path.join(packageRoot(), 'bench', 'data', 'facts', 'general-tasks.jsonl');
}

/** A line of the task file. */
export type GeneralTaskLine = Record<string, unknown> & { task: string; kind: string; prompt: string };

/** The fact table's facts that the benchmark's records ask as locality prompts with an answer: never edited. */
export function localityFactsOf(table: FactTable, localityPrompts: ReadonlyArray<{ prompt: string; answer?: string }>): Fact[] {
  const answers = new Map(localityPrompts.filter((l) => l.answer !== undefined && l.answer !== '').map((l) => [l.prompt, l.answer!]));
  const relations = new Map(table.relations.map((r) => [r.id, r]));
  return table.facts.filter((fact) => relations.get(fact.relation)!.train.some((template) => answers.get(factPrompt(template, fact)) === fact.object));
}

export function buildGeneralTasks(table: FactTable, facts: readonly Fact[], options: GeneralTaskOptions = DEFAULT_GENERAL_TASK_OPTIONS): GeneralTaskLine[] {
  const rng = new Random(options.seed);
  const relations = new Map(table.relations.map((r) => [r.id, r]));
  const objects = new Map<string, string[]>();
  for (const fact of table.facts) {
    const list = objects.get(fact.relation) ?? [];
    if (!list.includes(fact.object)) list.push(fact.object);
    objects.set(fact.relation, list);
  }
  /** `count` objects of the fact's relation other than its own, drawn without repeats. */
  const others = (fact: Fact, count: number) => rng.shuffle(objects.get(fact.relation)!.filter((o) => o !== fact.object)).slice(0, count);
  const take = (list: readonly Fact[]) => rng.shuffle([...list]).slice(0, options.perTask);
  const wordnet = facts.filter((f) => f.relation === 'noun_hypernym');
  const rest = facts.filter((f) => f.relation !== 'noun_hypernym');
  const lines: GeneralTaskLine[] = [];

  for (const fact of take(facts)) {
    const relation = relations.get(fact.relation)!;
    lines.push({
      task: 'facts-qa',
      kind: 'exact',
      prompt: factPrompt(relation.heldout[rng.int(relation.heldout.length)], fact),
      answers: [fact.object],
      maxTokens: 8,
    });
  }
  const choice = (task: string, fact: Fact, relation: RelationTable) => {
    const options4 = rng.shuffle([fact.object, ...others(fact, 3)]);
    lines.push({
      task,
      kind: 'choice',
      prompt: factPrompt(relation.train[rng.int(relation.train.length)], fact),
      choices: options4.map((o) => ` ${o}`),
      answer: options4.indexOf(fact.object),
    });
  };
  for (const fact of take(rest)) choice('facts-choice', fact, relations.get(fact.relation)!);
  for (const fact of take(wordnet)) choice('wordnet-category', fact, relations.get(fact.relation)!);
  return lines;
}
