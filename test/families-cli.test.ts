import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli, sharedDir, writeSentencePieceTokenizer } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-families-cli-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function elder(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

// tiny-gemma3 is not here yet: on its random weights ELDER does not reach the target through
// the CLI (each block's MLP output is renormalised before the residual, which √width-scaled
// embeddings dominate), although its loss falls (families.test.ts).
for (const family of ['tiny-qwen2', 'tiny-llama3', 'tiny-qwen3', 'tiny-phi3']) {
  // The fixtures' weights are random: what such a model says after the target (which the
  // "holds" check also reads) is noise, so the test asks for the target itself, through the
  // experts, in the answer `elder ask` gives.
  test(`${family}: elder edit applies an edit, and elder ask answers with its target through the experts`, () => {
    const model = path.join(tmp, family);
    fs.cpSync(path.join(sharedDir, 'fixtures', family), model, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as { bos_token_id: number; eos_token_id: number };
    // The fixtures have no tokenizer: one of Gemma's kind, with the family's start and end ids, is written beside the copy.
    writeSentencePieceTokenizer(model, { bosId: config.bos_token_id, eosId: config.eos_token_id });
    const edits = path.join(tmp, `${family}.jsonl`);
    fs.writeFileSync(edits, `${JSON.stringify({ id: 'lyon', prompt: 'The capital of France is', target: 'Lyon', subject: 'France' })}\n`);
    const state = path.join(tmp, `${family}-state`);
    const edited = elder('edit', '--model', model, '--state', state, '--edits', edits);
    assert.equal(edited.status, 0, edited.stderr);
    assert.match(edited.stdout, /^applied lyon experts \[\[\d+,\d+\]/m);
    const asked = elder('ask', '--model', model, '--state', state, '--prompt', 'The capital of France is', '--json');
    assert.equal(asked.status, 0, asked.stderr);
    const answer = JSON.parse(asked.stdout) as { answer: string; deferred: boolean };
    assert.equal(answer.deferred, false);
    assert.match(answer.answer, /^ Lyon/);
  });
}
