import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { type FactsTrainingRecord, modelCard, retimedRun } from '../scripts/facts-model-card.js';
import { elderConfig } from '../src/editors/elder/config.js';
import { querySiteOf } from '../src/editors/elder/core-config.js';
import { measureKnowledge } from '../src/facts/knowledge.js';
import { readFactTable } from '../src/facts/table.js';
import { readConfig } from '../src/models/config.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { loadModel } from '../src/models/load.js';
import { cli } from './helpers.js';

const dir = defaultModelDir();

interface Record {
  parameters: number;
  finalValidationLoss: number;
  knowledge: { overall: { train: number; heldout: number; separation: number } };
}

test('elder-facts ships as a Hugging Face folder of at most 60 MB F16, with its card, loss curve and training record', () => {
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'vocab.json', 'merges.txt', 'README.md', 'loss-curve.svg', 'training.json'])
    assert.ok(fs.existsSync(path.join(dir, file)), `${file} missing`);
  assert.ok(fs.statSync(path.join(dir, 'model.safetensors')).size <= 60e6);
  const loaded = loadModel(dir);
  assert.deepEqual(loaded.storedDtypes, ['F16']);
  assert.equal(loaded.model.config.architecture, 'gpt2');
  const record = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8')) as Record;
  assert.equal(record.parameters, loaded.model.parameterCount());
  // The card states the run's own numbers.
  const card = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  assert.match(card, new RegExp(`loss \\*\\*${record.finalValidationLoss.toFixed(3)}\\*\\*`));
  assert.match(card, new RegExp(`\\*\\*${(100 * record.knowledge.overall.heldout).toFixed(1)}\\*\\*`));
});

test('a retimed run of the same recipe goes into the card beside the run that made the weights; another recipe is refused', () => {
  const record = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8')) as FactsTrainingRecord;
  const rerun: FactsTrainingRecord = { ...record, trainingSeconds: 2460, finalValidationPerplexity: 38.25 };
  const retimed = retimedRun(record, rerun, new Date('2026-12-02T03:00:00Z'));
  assert.equal(retimed.date, '2026-12-02');
  const card = modelCard({ ...record, retimed }, readConfig(dir));
  assert.match(card, new RegExp(`${(record.trainingSeconds / 60).toFixed(1)} minutes on .*\\(the run that made these weights\\)`));
  assert.match(card, /from scratch on 2026-12-02, with that day's engine: \*\*41\.0 minutes\*\*.*perplexity 38\.3/);
  assert.throws(() => retimedRun(record, { ...rerun, config: { ...record.config, totalSteps: 100 } }, new Date()), /another recipe/);
});

test('elder-facts knows real facts: recall in training and held-out phrasings, on the first 15 facts of every relation', () => {
  const { model, tokenizer } = loadModel(dir);
  const report = measureKnowledge(model, tokenizer!, readFactTable(), {
    trainTemplatesPerFact: 2,
    querySite: querySiteOf(model, elderConfig(model.config).core),
    factsPerRelation: 15,
    batchSize: 32,
    separation: false,
  });
  assert.equal(report.relations.length, 10);
  for (const r of report.relations) assert.ok(r.train >= 0.7, `${r.relation}: ${(100 * r.train).toFixed(0)}% in training phrasings`);
  assert.ok(report.overall.train >= 0.9, `mean recall in training phrasings ${(100 * report.overall.train).toFixed(1)}%`);
  assert.ok(report.overall.heldout >= 0.5, `mean recall in held-out phrasings ${(100 * report.overall.heldout).toFixed(1)}%`);
});

test('commands default to elder-facts when --model is not given', () => {
  const result = spawnSync(process.execPath, [cli, 'info', '--json'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const info = JSON.parse(result.stdout) as { model: string; architecture: string; dtype: string };
  assert.deepEqual([path.basename(info.model), info.architecture, info.dtype], ['elder-facts', 'gpt2', 'F16']);
});

test('elder eval-base --json reports every relation, the targets and the perplexity on held-out general text', () => {
  const result = spawnSync(process.execPath, [cli, 'eval-base', '--facts-per-relation', '5', '--train-templates', '1', '--json'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as {
    relations: Array<{
      relation: string;
      facts: number;
      train: number;
      heldout: number;
      separation: number;
      separationByTemplate: Array<{ template: string; share: number }>;
      subjectSeparation: number;
    }>;
    subjectSite: string;
    perplexity: number;
    targets: { train: number };
    misses: unknown[];
  };
  assert.equal(report.relations.length, 10);
  for (const r of report.relations) {
    assert.equal(r.facts, 5);
    for (const value of [r.train, r.heldout, r.separation, r.subjectSeparation]) assert.ok(value >= 0 && value <= 1, `${r.relation}: ${value}`);
    // One share per held-out template; each template has the same facts, so they average to the relation's separation.
    assert.equal(r.separationByTemplate.length, 4);
    assert.ok(r.separationByTemplate.every((t) => t.template.includes('{s}')));
    const mean = r.separationByTemplate.reduce((sum, t) => sum + t.share, 0) / r.separationByTemplate.length;
    assert.ok(Math.abs(mean - r.separation) < 1e-9, `${r.relation}: templates average ${mean}, relation ${r.separation}`);
  }
  // The subject gate's key: the edited kind of linear in a low block (block 1 of elder-facts).
  assert.equal(report.subjectSite, 'transformer.h.1.mlp.c_fc');
  assert.ok(report.perplexity > 1 && report.perplexity < 1000, `perplexity ${report.perplexity}`);
  assert.equal(report.targets.train, 0.9);
});

test('elder eval-base --blocks measures the separation where an ELDER on other blocks reads its query, and refuses blocks the model lacks', () => {
  const run = (blocks: string) =>
    spawnSync(process.execPath, [cli, 'eval-base', '--facts-per-relation', '3', '--train-templates', '1', '--blocks', blocks, '--json'], { encoding: 'utf8' });
  const result = run('3-4');
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { querySite: string };
  // The query comes from the block below the first edited one.
  assert.equal(report.querySite, 'transformer.h.2.mlp.c_fc');
  const refused = run('0-99');
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /blocks 0-99 must satisfy 1 ≤ first ≤ last </);
  assert.match(run('five').stderr, /--blocks must look like a-b/);
});

test('the demo (npm start) edits real facts: edited prompts take their new targets, most rephrasings follow, unrelated facts stay', () => {
  const result = spawnSync(process.execPath, [cli, 'demo'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const scores = (label: string) => {
    const match = new RegExp(`^\\s+${label}\\s+(\\d+)%\\s+(\\d+)%\\s+(\\d+)%`, 'm').exec(result.stdout);
    assert.ok(match !== null, `no "${label}" score line in:\n${result.stdout}`);
    return match.slice(1).map(Number);
  };
  assert.deepEqual(scores('before'), [0, 0, 100]);
  const [reliability, generalization, locality] = scores('after ELDER');
  assert.equal(reliability, 100);
  // The bar for the demo: unrelated facts stay as they were, most held-out phrasings follow their edit.
  assert.ok(locality >= 90, `locality ${locality}%`);
  assert.ok(generalization >= 50, `generalization ${generalization}%`);
  assert.equal((result.stdout.match(/^ {3}edited .*✓$/gm) ?? []).length, 4);
  // Every unrelated prompt is shown with its route and whether its answer changed.
  assert.equal((result.stdout.match(/^ {3}unrelated .*(base|edited) \(d=\d+\).*\((un)?changed\)$/gm) ?? []).length, 12);
});
