/**
 * `npm run facts:benchmark [-- --model DIR]`: writes the counterfactual
 * editing benchmarks `bench/data/facts/zsre.json` and `counterfact.json` from
 * the fact table and the facts the base model (default: elder's default
 * model) answers correctly. Deterministic for a given model and table.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildEditRecords, DEFAULT_BENCHMARK_OPTIONS, toCounterfact, toZsre } from '../src/facts/benchmark.js';
import { readGeneralText } from '../src/facts/general-text.js';
import { knownFacts } from '../src/facts/knowledge.js';
import type { Fact } from '../src/facts/sources.js';
import { defaultFactTablePath, readFactTable } from '../src/facts/table.js';
import { resolveModelDir } from '../src/models/default-model.js';
import { loadModel } from '../src/models/load.js';
import { requireTokenizer } from '../src/models/tokenizer.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { ElderError } from '../src/util/errors.js';

/** A fact the model misses in this many training phrasings is not one it knows. */
const TEMPLATE_ATTEMPTS = 3;

function main(): void {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { model: { type: 'string' }, out: { type: 'string' } } });
  const modelDir = resolveModelDir(values.model);
  const outDir = values.out ?? path.dirname(defaultFactTablePath());
  const { model, tokenizer } = loadModel(modelDir);
  const tok = requireTokenizer(tokenizer, modelDir);
  const table = readFactTable();
  const relations = new Map(table.relations.map((r) => [r.id, r]));

  // Each fact is tried in a rotating training template, then the following ones, until the base model answers it.
  const indexInRelation = new Map<string, number>();
  const counters = new Map<string, number>();
  for (const fact of table.facts) {
    const n = counters.get(fact.relation) ?? 0;
    indexInRelation.set(fact.id, n);
    counters.set(fact.relation, n + 1);
  }
  const templateCount = (fact: Fact) => relations.get(fact.relation)!.train.length;
  const known = new Map<string, number>();
  let pending = table.facts;
  for (let attempt = 0; attempt < TEMPLATE_ATTEMPTS && pending.length > 0; attempt++) {
    const templateIndex = (fact: Fact) => (indexInRelation.get(fact.id)! + attempt) % templateCount(fact);
    const answered = knownFacts(model, tok, pending, (fact) => relations.get(fact.relation)!.train[templateIndex(fact)], 32);
    pending.forEach((fact, i) => {
      if (answered[i]) known.set(fact.id, templateIndex(fact));
    });
    pending = pending.filter((_, i) => !answered[i]);
    console.log(`attempt ${attempt + 1}: ${known.size} of ${table.facts.length} facts answered in some training phrasing`);
  }
  const records = buildEditRecords(table, (fact) => known.get(fact.id), readGeneralText(), DEFAULT_BENCHMARK_OPTIONS);
  fs.mkdirSync(outDir, { recursive: true });
  writeFileAtomic(path.join(outDir, 'zsre.json'), [Buffer.from(`${JSON.stringify(records.map(toZsre), null, 1)}\n`)]);
  writeFileAtomic(path.join(outDir, 'counterfact.json'), [Buffer.from(`${JSON.stringify(records.map(toCounterfact), null, 1)}\n`)]);
  const byRelation = new Map<string, number>();
  for (const r of records) byRelation.set(r.fact.relation, (byRelation.get(r.fact.relation) ?? 0) + 1);
  console.log(
    `wrote ${records.length} counterfactual edits to ${path.join(outDir, 'zsre.json')} and counterfact.json (${[...byRelation].map(([r, n]) => `${r} ${n}`).join(', ')}), model ${modelDir}`,
  );
}

try {
  main();
} catch (error) {
  if (!(error instanceof ElderError)) throw error;
  console.error(`facts:benchmark: ${error.message}`);
  process.exit(1);
}
