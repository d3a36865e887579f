import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { METHODS } from '../src/editors/registry.js';
import { cli, repoRoot, sharedDir, writeSentencePieceTokenizer } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-families-cli-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** The covariance cache of these tests, apart from the user's. */
const env = { ...process.env, ELDER_CACHE_DIR: path.join(tmp, 'cache') };

function elder(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });
}

const FAMILIES = ['tiny-qwen2', 'tiny-llama3', 'tiny-qwen3', 'tiny-phi3', 'tiny-gemma3'] as const;

/**
 * A copy of a family's fixture with a tokenizer beside it (the fixtures have
 * none): one of Gemma's kind, with the family's start and end ids.
 */
function fixtureCopy(family: string): string {
  const model = path.join(tmp, family);
  if (fs.existsSync(model)) return model;
  fs.cpSync(path.join(sharedDir, 'fixtures', family), model, { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as { bos_token_id: number; eos_token_id: number };
  writeSentencePieceTokenizer(model, { bosId: config.bos_token_id, eosId: config.eos_token_id });
  return model;
}

/**
 * ELDER's blocks on a fixture, for the CLI. The default edits one block of
 * these three-block models (the upper half, ending at 84% of the depth).
 * Gemma renormalises each block's MLP output (`post_feedforward_layernorm`),
 * so an expert on one block can turn that output but not grow it, and on
 * random weights one block's turn does not reach the target: Gemma's
 * fixture edits its two upper blocks, as a real Gemma 3 edits six.
 */
const blocks = (family: string): string[] => (family === 'tiny-gemma3' ? ['--blocks', '1-2'] : []);

for (const family of FAMILIES) {
  // The fixtures' weights are random: what such a model says after the target (which the
  // "holds" check also reads) is noise, so the test asks for the target itself, through the
  // experts, in the answer `elder ask` gives.
  test(`${family}: elder edit applies an edit, and elder ask answers with its target through the experts`, () => {
    const model = fixtureCopy(family);
    const edits = path.join(tmp, `${family}.jsonl`);
    fs.writeFileSync(edits, `${JSON.stringify({ id: 'lyon', prompt: 'The capital of France is', target: 'Lyon', subject: 'France' })}\n`);
    const state = path.join(tmp, `${family}-state`);
    const edited = elder('edit', '--model', model, '--state', state, '--edits', edits, ...blocks(family));
    assert.equal(edited.status, 0, edited.stderr);
    assert.match(edited.stdout, /^applied lyon experts \[\[\d+,\d+\]/m);
    const asked = elder('ask', '--model', model, '--state', state, '--prompt', 'The capital of France is', '--json');
    assert.equal(asked.status, 0, asked.stderr);
    const answer = JSON.parse(asked.stdout) as { answer: string; deferred: boolean };
    assert.equal(answer.deferred, false);
    assert.match(answer.answer, /^ Lyon/);
  });
}

/** The small stream with a subject per edit, which the locate-then-edit methods need. */
function subjectEdits(): string {
  const subjects: Record<string, string> = { eiffel: 'Eiffel Tower', hamlet: 'Hamlet', messi: 'Lionel Messi' };
  const records = fs
    .readFileSync(path.join(repoRoot, 'bench/data/edits-small.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { id: string });
  const file = path.join(tmp, 'edits-with-subjects.jsonl');
  fs.writeFileSync(file, records.map((record) => `${JSON.stringify({ ...record, subject: subjects[record.id] })}\n`).join(''));
  return file;
}

/**
 * The fixture settings (random weights need larger steps than the papers'),
 * plus AlphaEdit's null-space threshold: it is absolute, in units of the key
 * covariance, whose smallest eigenvalues on these fixtures lie between 0.01
 * and 0.1 (the reference's 0.02 leaves some blocks no null space), and
 * Gemma's ELDER blocks as above.
 */
function benchSettings(family: string): string {
  const settings = JSON.parse(fs.readFileSync(path.join(repoRoot, 'bench/data/fixture-settings.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  delete settings.$comment;
  settings.alphaedit = { nullSpaceThreshold: 0.3 };
  if (family === 'tiny-gemma3') for (const method of ['elder', 'elder-noguide', 'elder-balance']) settings[method] = { ...settings[method], firstBlock: 1 };
  const file = path.join(tmp, `${family}-settings.json`);
  fs.writeFileSync(file, JSON.stringify(settings));
  return file;
}

interface MethodResult {
  method: string;
  reliability: number;
  generalization: number;
  locality: number;
  perplexity: number;
  editsApplied: number;
}

for (const family of FAMILIES) {
  test(`${family}: every method takes a stream of edits through bench-edit, and ELDER's hold`, () => {
    const model = fixtureCopy(family);
    // The locate-then-edit methods need the key covariance of the family's FFN output projection.
    const covariance = elder('covariance', '--model', model, '--tokens', '4000', '--text', path.join(repoRoot, 'bench/data/facts/general-heldout.jsonl'));
    assert.equal(covariance.status, 0, covariance.stderr);
    assert.match(covariance.stdout, /^block 2: 176×176 over \d+ tokens, .*mlp\.down_proj-block2\.safetensors$/m);

    const out = path.join(tmp, `${family}-bench`);
    const run = elder(
      'bench-edit',
      '--model',
      model,
      '--data',
      subjectEdits(),
      '--out',
      out,
      '--edits',
      '3',
      '--settings',
      benchSettings(family),
      '--locality-tokens',
      '4',
    );
    assert.equal(run.status, 0, run.stderr);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as {
      complete: boolean;
      base: { perplexity: number };
      methods: MethodResult[];
    };
    assert.equal(results.complete, true);
    assert.deepEqual(
      results.methods.map((m) => m.method),
      [...METHODS],
    );
    for (const m of results.methods) {
      assert.equal(m.editsApplied, 5, `${m.method}: the 5 edit prompts of 3 records`);
      for (const score of [m.reliability, m.generalization, m.locality]) assert.ok(score >= 0 && score <= 1, `${m.method}: ${JSON.stringify(m)}`);
      assert.ok(Number.isFinite(m.perplexity) && m.perplexity > 1, `${m.method} perplexity ${m.perplexity}`);
    }
    const byName = new Map(results.methods.map((m) => [m.method, m]));
    assert.equal(byName.get('elder')?.reliability, 1, "ELDER's edits hold");
    assert.equal(byName.get('elder')?.locality, 1, 'and the unrelated prompts defer to the base model');
    assert.ok(byName.get('elder-paper')!.reliability > 0, 'the paper preset holds some');
    // The methods that write the base weights wrote them on this family's modules.
    for (const method of ['ft-l', 'rome', 'wilke', 'memit', 'alphaedit'])
      assert.notEqual(byName.get(method)?.perplexity, results.base.perplexity, `${method} changed nothing`);
  });
}
