/**
 * `npm run facts:table`: reads the pinned data packages and writes elder's
 * fact table, `bench/data/facts/facts.json`, and the held-out general text
 * (`general-heldout.jsonl`, from Debian's WordNet and fortunes). Deterministic:
 * the same package versions give the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultGeneralTextPath, heldOutDocuments } from '../src/facts/general-text.js';
import { readAllFacts } from '../src/facts/sources.js';
import { buildFactTable, defaultFactTablePath } from '../src/facts/table.js';
import { loadDebianCorpus } from '../src/train/corpus.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { ElderError } from '../src/util/errors.js';

try {
  const { facts, sources } = readAllFacts();
  const table = buildFactTable(facts, sources);
  const file = defaultFactTablePath();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, [Buffer.from(`${JSON.stringify(table, null, 1)}\n`)]);
  const counts = new Map<string, number>();
  for (const fact of facts) counts.set(fact.relation, (counts.get(fact.relation) ?? 0) + 1);
  const general = heldOutDocuments(loadDebianCorpus().documents);
  writeFileAtomic(defaultGeneralTextPath(), [Buffer.from(`${general.map((doc) => JSON.stringify(doc)).join('\n')}\n`)]);
  console.log(`wrote ${defaultGeneralTextPath()}: ${general.length} held-out general documents`);
  console.log(
    `wrote ${file}: ${facts.length} facts (${[...counts].map(([r, n]) => `${r} ${n}`).join(', ')}) from ${sources.map((s) => `${s.package} ${s.version}`).join(', ')}`,
  );
} catch (error) {
  if (!(error instanceof ElderError)) throw error;
  console.error(`facts:table: ${error.message}`);
  process.exit(1);
}
