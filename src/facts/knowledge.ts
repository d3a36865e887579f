/**
 * What a base model knows of the fact table, measured three ways:
 * - recall in training phrasings and in held-out phrasings: the share of
 *   (fact, template) prompts whose whole object is the greedy answer
 *   (teacher-forced: every object token is the argmax);
 * - separation at ELDER's router query (the input of the edited kind of
 *   linear one block below the first edited block): the share of (fact,
 *   held-out template) pairs whose last-token query is nearer to the same fact's
 *   in a training phrasing than to that phrasing's state for every other
 *   subject of the relation. Routing and deferral read these states, so this
 *   decides whether they can tell one fact's rephrasings from other facts;
 * - the same separation at the subject gate's key (elder's default ELDER:
 *   the input of the edited kind of linear in a low block, at the subject's
 *   last token), which decides whether the gate can.
 */

import { padTokenId } from '../editors/common/batch.js';
import { scoreTargets, type TargetItem } from '../editors/common/scoring.js';
import { subjectEndOf, tokenizeEdit } from '../editors/edit.js';
import { rowCapture } from '../editors/editor.js';
import { padBatch } from '../models/batch.js';
import type { DecoderLM } from '../models/decoder.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { noGrad } from '../tensor/tensor.js';
import type { Fact } from './sources.js';
import { type FactTable, factPrompt, type RelationTable } from './table.js';

export interface RelationKnowledge {
  relation: string;
  facts: number;
  /** Recall over the sampled training-template prompts. */
  train: number;
  /** Recall over every held-out-template prompt. */
  heldout: number;
  /** Nearest-neighbour separation at the query layer (NaN when not measured). */
  separation: number;
  /**
   * The same per held-out template (empty when not measured): which phrasings
   * a relation's misses come from.
   */
  separationByTemplate: TemplateSeparation[];
  /** The same at the subject gate's key, the subject's last token at `subjectSite` (NaN when not measured). */
  subjectSeparation: number;
}

/** Separation at the query layer of one held-out template's prompts. */
export interface TemplateSeparation {
  template: string;
  share: number;
}

export interface KnowledgeReport {
  relations: RelationKnowledge[];
  /** Means over relations (each relation weighs the same). */
  overall: { train: number; heldout: number; separation: number; subjectSeparation: number };
  /** The linear whose input is ELDER's query (at the last prompt token). */
  querySite: string;
  /** The linear whose input is the subject gate's key (at the subject's last token), when measured. */
  subjectSite?: string;
  trainTemplatesPerFact: number;
}

export interface KnowledgeOptions {
  /** Training templates scored per fact (rotating over the relation's list). */
  trainTemplatesPerFact: number;
  /** The linear whose input is ELDER's router query (`ElderEditor.querySite`). */
  querySite: string;
  /** The linear whose input is the subject gate's key (`ElderEditor.subjectSite`); the subject separation is skipped without it. */
  subjectSite?: string;
  /** Facts per relation at most (the first ones); all when undefined. */
  factsPerRelation?: number;
  batchSize: number;
  /** Skip the separation check (it runs one extra forward pass per prompt). */
  separation: boolean;
  onProgress?: (done: number, total: number) => void;
}

interface Probe {
  split: 'train' | 'heldout';
  item: TargetItem;
}

/** The prompts scored for a relation: rotating training templates and every held-out one. */
function probesFor(relation: RelationTable, facts: Fact[], tokenizer: TextTokenizer, model: DecoderLM, perFact: number): Probe[] {
  const probes: Probe[] = [];
  const make = (fact: Fact, template: string, split: 'train' | 'heldout') => {
    const prompt = factPrompt(template, fact);
    const { promptIds, targetIds } = tokenizeEdit(tokenizer, model.config, { id: fact.id, label: fact.id, prompt, target: fact.object });
    probes.push({ split, item: { promptIds, targetIds } });
  };
  facts.forEach((fact, i) => {
    for (let k = 0; k < perFact; k++) {
      const t = (i + Math.floor((k * relation.train.length) / perFact)) % relation.train.length;
      make(fact, relation.train[t], 'train');
    }
    relation.heldout.forEach((template) => {
      make(fact, template, 'heldout');
    });
  });
  return probes;
}

/**
 * ELDER's router query for each prompt: the input of the edited kind of
 * linear one block below the first edited block (`querySite`, e.g.
 * `transformer.h.2.mlp.c_fc`), at the last prompt token.
 */
export function queryStates(
  model: DecoderLM,
  prompts: readonly number[][],
  querySite: string,
  batchSize: number,
  positions?: readonly number[],
): Float32Array[] {
  const states: Float32Array[] = [];
  const padId = padTokenId(model.config);
  const block = Number(/\.(\d+)\./.exec(querySite)?.[1]);
  noGrad(() => {
    for (let start = 0; start < prompts.length; start += batchSize) {
      const chunk = prompts.slice(start, start + batchSize);
      const batch = padBatch(chunk, padId);
      const rows = Int32Array.from(chunk, (ids, b) => b * batch.steps + (positions?.[start + b] ?? ids.length - 1));
      const { hooks, captured } = rowCapture(querySite, rows);
      model.runBlocks(model.embed(batch.ids, batch.batch, batch.steps, 0), 0, block + 1, { hooks });
      const query = captured.input!;
      const width = query.lastDim;
      chunk.forEach((_, b) => {
        states.push(query.data.slice(b * width, (b + 1) * width));
      });
    }
  });
  return states;
}

function squaredDistance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

/**
 * Share of (fact, held-out template) pairs whose state is nearest to the same
 * fact's state under the relation's first training template, among that
 * template's states for every subject of the relation; overall and per
 * held-out template.
 */
function separation(
  model: DecoderLM,
  tokenizer: TextTokenizer,
  relation: RelationTable,
  facts: Fact[],
  site: string,
  batchSize: number,
  at: 'last' | 'subject' = 'last',
): { share: number; byTemplate: TemplateSeparation[] } {
  const statesOf = (template: string) => {
    const prompts = facts.map((fact) => factPrompt(template, fact));
    const ids = prompts.map((prompt) => tokenizer.encode(prompt));
    // A prompt that does not spell its subject (none here) is read at its last token.
    const positions =
      at === 'subject' ? ids.map((promptIds, i) => subjectEndOf(tokenizer, prompts[i], promptIds, facts[i].subject) ?? promptIds.length - 1) : undefined;
    return queryStates(model, ids, site, batchSize, positions);
  };
  const anchors = statesOf(relation.train[0]);
  let hits = 0;
  let total = 0;
  const byTemplate: TemplateSeparation[] = [];
  for (const template of relation.heldout) {
    const queries = statesOf(template);
    let templateHits = 0;
    queries.forEach((query, i) => {
      const own = squaredDistance(query, anchors[i]);
      let nearest = true;
      for (let j = 0; j < anchors.length && nearest; j++) if (j !== i && squaredDistance(query, anchors[j]) <= own) nearest = false;
      templateHits += nearest ? 1 : 0;
    });
    hits += templateHits;
    total += queries.length;
    byTemplate.push({ template, share: templateHits / queries.length });
  }
  return { share: hits / total, byTemplate };
}

/** Measures the model's knowledge of every relation in the table. */
export function measureKnowledge(model: DecoderLM, tokenizer: TextTokenizer, table: FactTable, options: KnowledgeOptions): KnowledgeReport {
  const relations: RelationKnowledge[] = [];
  const groups = table.relations.map((relation) => {
    const facts = table.facts.filter((fact) => fact.relation === relation.id).slice(0, options.factsPerRelation);
    return { relation, facts, probes: probesFor(relation, facts, tokenizer, model, options.trainTemplatesPerFact) };
  });
  const total = groups.reduce((n, g) => n + g.probes.length, 0);
  let done = 0;
  for (const { relation, facts, probes } of groups) {
    if (facts.length === 0) continue;
    const scores = scoreTargets(
      model,
      null,
      probes.map((p) => p.item),
      options.batchSize,
    );
    const share = (split: 'train' | 'heldout') => {
      const picked = probes.map((p, i) => ({ p, ok: scores.correct[i] })).filter(({ p }) => p.split === split);
      return picked.filter(({ ok }) => ok).length / picked.length;
    };
    done += probes.length;
    options.onProgress?.(done, total);
    const atQuery = options.separation ? separation(model, tokenizer, relation, facts, options.querySite, options.batchSize) : undefined;
    relations.push({
      relation: relation.id,
      facts: facts.length,
      train: share('train'),
      heldout: share('heldout'),
      separation: atQuery?.share ?? NaN,
      separationByTemplate: atQuery?.byTemplate ?? [],
      subjectSeparation:
        options.separation && options.subjectSite !== undefined
          ? separation(model, tokenizer, relation, facts, options.subjectSite, options.batchSize, 'subject').share
          : NaN,
    });
  }
  const meanOf = (key: 'train' | 'heldout' | 'separation' | 'subjectSeparation') => relations.reduce((s, r) => s + r[key], 0) / relations.length;
  return {
    relations,
    overall: { train: meanOf('train'), heldout: meanOf('heldout'), separation: meanOf('separation'), subjectSeparation: meanOf('subjectSeparation') },
    querySite: options.querySite,
    ...(options.subjectSite === undefined ? {} : { subjectSite: options.subjectSite }),
    trainTemplatesPerFact: options.trainTemplatesPerFact,
  };
}

/**
 * Per fact: does the model answer it in the given template? (Used to pick
 * the facts a benchmark edits: only those the base model knows.)
 */
export function knownFacts(model: DecoderLM, tokenizer: TextTokenizer, facts: readonly Fact[], templateOf: (fact: Fact) => string, batchSize = 16): boolean[] {
  const items = facts.map((fact) => {
    const { promptIds, targetIds } = tokenizeEdit(tokenizer, model.config, {
      id: fact.id,
      label: fact.id,
      prompt: factPrompt(templateOf(fact), fact),
      target: fact.object,
    });
    return { promptIds, targetIds };
  });
  return scoreTargets(model, null, items, batchSize).correct;
}
