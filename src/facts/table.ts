/**
 * The fact table: every fact elder's knowledge model is taught, with the
 * relation templates (training and held-out) and the packages it came from.
 * `npm run facts:table` writes it to `bench/data/facts/facts.json`
 * from the pinned data packages; training, `elder eval-base` and the
 * benchmark builder all read that one file, so they agree on every fact and
 * phrasing without needing the packages at run time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../tensor/backends/native.js';
import { CheckpointError } from '../util/errors.js';
import type { Fact, SourceRecord } from './sources.js';
import { fillTemplate, RELATIONS, TRAINING_TEMPLATES } from './templates.js';

export interface RelationTable {
  id: string;
  description: string;
  sentenceEnd: string;
  train: string[];
  heldout: string[];
}

export interface FactTable {
  generatedBy: string;
  sources: SourceRecord[];
  relations: RelationTable[];
  facts: Fact[];
}

export function defaultFactTablePath(): string {
  return path.join(packageRoot(), 'bench', 'data', 'facts', 'facts.json');
}

export function buildFactTable(facts: Fact[], sources: SourceRecord[]): FactTable {
  const relations = RELATIONS.map((relation) => ({
    id: relation.id,
    description: relation.description,
    sentenceEnd: relation.sentenceEnd,
    train: relation.templates.slice(0, TRAINING_TEMPLATES),
    heldout: relation.templates.slice(TRAINING_TEMPLATES),
  }));
  const known = new Set(relations.map((r) => r.id));
  for (const fact of facts) if (!known.has(fact.relation)) throw new Error(`fact ${fact.id} has no templates for relation ${fact.relation}`);
  return { generatedBy: 'npm run facts:table', sources, relations, facts };
}

export function readFactTable(file = defaultFactTablePath()): FactTable {
  let table: FactTable;
  try {
    table = JSON.parse(fs.readFileSync(file, 'utf8')) as FactTable;
  } catch (error) {
    throw new CheckpointError(file, `cannot read the fact table (${(error as Error).message}); rebuild it with npm run facts:table`);
  }
  if (!Array.isArray(table.facts) || !Array.isArray(table.relations)) throw new CheckpointError(file, 'not a fact table: needs "facts" and "relations" arrays');
  const relations = new Set(table.relations.map((r) => r.id));
  table.facts.forEach((fact, i) => {
    if (typeof fact.subject !== 'string' || typeof fact.object !== 'string' || !relations.has(fact.relation)) {
      throw new CheckpointError(file, `facts[${i}] needs a subject, an object and a known relation`);
    }
  });
  return table;
}

export function relationOf(table: FactTable, id: string): RelationTable {
  const relation = table.relations.find((r) => r.id === id);
  if (relation === undefined) throw new Error(`no relation ${id} in the fact table`);
  return relation;
}

/** The prompt of `fact` in one of its relation's templates. */
export function factPrompt(template: string, fact: Fact): string {
  return fillTemplate(template, fact.subject);
}

/** A training sentence: the prompt, a space, the object, the relation's ending. */
export function factSentence(relation: RelationTable, template: string, fact: Fact): string {
  return `${factPrompt(template, fact)} ${fact.object}${relation.sentenceEnd}`;
}

/** Every training sentence of the table: each fact in each of its relation's training templates. */
export function trainingSentences(table: FactTable): string[] {
  const byId = new Map(table.relations.map((r) => [r.id, r]));
  const sentences: string[] = [];
  for (const fact of table.facts) {
    const relation = byId.get(fact.relation)!;
    for (const template of relation.train) sentences.push(factSentence(relation, template, fact));
  }
  return sentences;
}
