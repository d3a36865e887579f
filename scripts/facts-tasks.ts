/**
 * `npm run facts:tasks`: writes `bench/data/facts/general-tasks.jsonl`, the
 * general tasks `elder bench-edit --tasks` measures test retention on for
 * elder-facts (src/facts/general-tasks.ts), from the fact table and the facts
 * benchmark's locality facts. Needs no model.
 */
import path from 'node:path';
import { readDataset } from '../src/eval/datasets.js';
import { buildGeneralTasks, DEFAULT_GENERAL_TASK_OPTIONS, localityFactsOf } from '../src/facts/general-tasks.js';
import { defaultFactTablePath, readFactTable } from '../src/facts/table.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';

const dir = path.dirname(defaultFactTablePath());
const table = readFactTable();
const { records } = readDataset(path.join(dir, 'counterfact.json'), 'counterfact');
const facts = localityFactsOf(
  table,
  records.flatMap((r) => r.locality),
);
const lines = buildGeneralTasks(table, facts, DEFAULT_GENERAL_TASK_OPTIONS);
const out = path.join(dir, 'general-tasks.jsonl');
writeFileAtomic(out, [Buffer.from(lines.map((l) => `${JSON.stringify(l)}\n`).join(''))]);
const counts = new Map<string, number>();
for (const l of lines) counts.set(l.task, (counts.get(l.task) ?? 0) + 1);
console.log(`wrote ${lines.length} examples to ${out} from ${facts.length} never-edited facts: ${[...counts].map(([t, n]) => `${t} ${n}`).join(', ')}`);
