/**
 * Counterfactual editing benchmarks built from the fact table, as CounterFact
 * was built for GPT-2 XL: every record rewrites a fact the base model states
 * (its object becomes another object of the same relation), with rephrasings
 * in held-out templates and locality prompts the edit must leave alone.
 *
 * A seeded third of each relation's known facts is set aside as locality
 * facts, never edited: in a stream of hundreds of sequential edits, a
 * neighbour drawn from all known facts is often edited itself a few records
 * later (docs/evaluation.md#lifelong-editing-on-the-facts-benchmark), and
 * then a perfect editor must change it. Per remaining known fact (seeded, shuffled across
 * relations):
 * - the edit prompt: one of the relation's training templates (rotating),
 *   which the base model answers correctly;
 * - rephrasings: three of the four held-out templates (rotating);
 * - target: another object of the relation, drawn at random;
 * - locality: two of the set-aside facts of other subjects in the same
 *   relation, which the base model answers correctly (preferring subjects with the same true object,
 *   as CounterFact's neighbourhood prompts do), and one general-text prompt.
 * Written in ZsRE's and COUNTERFACT's schemas, plus an explicit `locality`
 * list of `{prompt, answer}` that elder's loaders prefer when present.
 */
import { Random } from '../util/random.js';
import type { Fact } from './sources.js';
import { type FactTable, factPrompt, type RelationTable } from './table.js';
import { fillTemplate } from './templates.js';

export interface BenchmarkOptions {
  seed: number;
  /** Held-out rephrasings per record. */
  rephrasings: number;
  /** Same-relation locality facts per record. */
  neighbours: number;
  /** Words of a general-text document used as a locality prompt. */
  generalPromptWords: number;
  /** Share of each relation's known facts set aside as locality facts (never edited). */
  localityShare: number;
}

export const DEFAULT_BENCHMARK_OPTIONS: BenchmarkOptions = { seed: 2025, rephrasings: 3, neighbours: 2, generalPromptWords: 8, localityShare: 1 / 3 };

/** What the base model was checked to know: the training template index per fact id that it answers, or undefined. */
export type KnownTemplate = (fact: Fact) => number | undefined;

export interface FactEditRecord {
  caseId: number;
  fact: Fact;
  relation: RelationTable;
  templateIndex: number;
  prompt: string;
  targetNew: string;
  rephrases: string[];
  locality: Array<{ prompt: string; answer: string; kind: 'fact' | 'general' }>;
}

/** The records of the benchmark: one per known fact not set aside for locality, in a seeded order. */
export function buildEditRecords(
  table: FactTable,
  knownTemplate: KnownTemplate,
  generalDocuments: readonly string[],
  options = DEFAULT_BENCHMARK_OPTIONS,
): FactEditRecord[] {
  const rng = new Random(options.seed);
  const relations = new Map(table.relations.map((r) => [r.id, r]));
  const known = new Map<string, number>();
  for (const fact of table.facts) {
    const t = knownTemplate(fact);
    if (t !== undefined) known.set(fact.id, t);
  }
  const knownByRelation = new Map<string, Fact[]>();
  const objectsByRelation = new Map<string, string[]>();
  for (const fact of table.facts) {
    if (!objectsByRelation.has(fact.relation)) objectsByRelation.set(fact.relation, []);
    const objects = objectsByRelation.get(fact.relation)!;
    if (!objects.includes(fact.object)) objects.push(fact.object);
    if (!known.has(fact.id)) continue;
    if (!knownByRelation.has(fact.relation)) knownByRelation.set(fact.relation, []);
    knownByRelation.get(fact.relation)!.push(fact);
  }
  const generalPrompts = generalDocuments
    .map((doc) => doc.split(/\s+/).slice(0, options.generalPromptWords).join(' '))
    .filter((prompt) => prompt.split(' ').length === options.generalPromptWords);

  // Every ⌈1/share⌉-th known fact of a relation, in a seeded order, is a locality fact only.
  const localityFacts = new Map<string, Fact[]>();
  const localityIds = new Set<string>();
  for (const [relation, facts] of knownByRelation) {
    const reserved = rng.shuffle(facts).slice(0, Math.round(facts.length * options.localityShare));
    localityFacts.set(relation, reserved);
    reserved.forEach((f) => {
      localityIds.add(f.id);
    });
  }
  const order = rng.shuffle(table.facts.filter((fact) => known.has(fact.id) && !localityIds.has(fact.id)));
  return order.map((fact, caseId) => {
    const relation = relations.get(fact.relation)!;
    const templateIndex = known.get(fact.id)!;
    const objects = objectsByRelation.get(fact.relation)!.filter((o) => o !== fact.object);
    const targetNew = objects[rng.int(objects.length)];
    const start = rng.int(relation.heldout.length);
    const rephrases = Array.from({ length: Math.min(options.rephrasings, relation.heldout.length) }, (_, k) =>
      factPrompt(relation.heldout[(start + k) % relation.heldout.length], fact),
    );
    const others = localityFacts.get(fact.relation)!.filter((f) => f.subject !== fact.subject);
    const sameObject = rng.shuffle(others.filter((f) => f.object === fact.object));
    const rest = rng.shuffle(others.filter((f) => f.object !== fact.object));
    const neighbours = [...sameObject, ...rest].slice(0, options.neighbours);
    const locality: FactEditRecord['locality'] = neighbours.map((f) => ({
      prompt: factPrompt(relation.train[known.get(f.id)!], f),
      answer: f.object,
      kind: 'fact',
    }));
    if (generalPrompts.length > 0) locality.push({ prompt: generalPrompts[rng.int(generalPrompts.length)], answer: '', kind: 'general' });
    return { caseId, fact, relation, templateIndex, prompt: factPrompt(relation.train[templateIndex], fact), targetNew, rephrases, locality };
  });
}

/** The template with `{}` where the subject goes (COUNTERFACT's `requested_rewrite.prompt`). */
export function subjectSlotPrompt(template: string, subject: string): string {
  const marker = '\u0000';
  const article = /^[aeiou]/i.test(subject) ? 'an' : 'a';
  // Articles depend on the subject, so fill them for the real subject first.
  return fillTemplate(template.replaceAll('{a}', article).replaceAll('{A}', article[0].toUpperCase() + article.slice(1)), marker).replace(marker, '{}');
}

/** ZsRE schema (MEND/ROME's), with the lists-of-rephrasings variant and elder's `locality`. */
export function toZsre(record: FactEditRecord): Record<string, unknown> {
  const factLocality = record.locality.find((l) => l.kind === 'fact');
  return {
    case_id: record.caseId,
    subject: record.fact.subject,
    relation: record.fact.relation,
    src: record.prompt,
    alt: record.targetNew,
    answers: [record.fact.object],
    rephrase: record.rephrases,
    ...(factLocality === undefined ? {} : { loc: factLocality.prompt, loc_ans: factLocality.answer }),
    locality: record.locality.map(({ prompt, answer }) => (answer === '' ? { prompt } : { prompt, answer })),
  };
}

/** COUNTERFACT schema (ROME's), with elder's `locality`. */
export function toCounterfact(record: FactEditRecord): Record<string, unknown> {
  return {
    case_id: record.caseId,
    requested_rewrite: {
      prompt: subjectSlotPrompt(record.relation.train[record.templateIndex], record.fact.subject),
      subject: record.fact.subject,
      relation_id: record.fact.relation,
      target_new: { str: record.targetNew },
      target_true: { str: record.fact.object },
    },
    paraphrase_prompts: record.rephrases,
    neighborhood_prompts: record.locality.filter((l) => l.kind === 'fact').map((l) => l.prompt),
    locality: record.locality.map(({ prompt, answer }) => (answer === '' ? { prompt } : { prompt, answer })),
  };
}
