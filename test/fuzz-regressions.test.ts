// Bugs `npm run fuzz` found, one test each, so that they stay fixed. (The state folder's and the
// server's are in elder-editor.test.ts and server.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../src/models/load.js';
import { readDataset } from '../src/eval/datasets.js';
import { parseEditsJsonl } from '../src/editors/edits-file.js';
import { CheckpointError, ElderError } from '../src/util/errors.js';
import { copyModel, createWorkspace } from '../fuzz/workspace.js';

const ws = createWorkspace();
process.on('exit', () => ws.remove());

function withFile(name: string, file: string, content: string): string {
  const dir = path.join(ws.root, name);
  copyModel(ws.modelDir, dir, true);
  fs.writeFileSync(path.join(dir, file), content);
  return dir;
}

test('a tokenizer.json with malformed added_tokens is refused naming the file, not a TypeError', () => {
  const json = JSON.parse(fs.readFileSync(path.join(ws.modelDir, 'tokenizer.json'), 'utf8'));
  for (const [name, added] of [['null-entry', [null]], ['not-a-list', { id: 3 }], ['no-id', [{ content: 'x' }]]] as const) {
    const dir = withFile(`tokenizer-${name}`, 'tokenizer.json', JSON.stringify({ ...json, added_tokens: added }));
    assert.throws(() => loadModel(dir), (e: unknown) => e instanceof CheckpointError && /tokenizer\.json: added_tokens/.test((e as Error).message), name);
  }
});

test('a benchmark file whose first record is not an object says so instead of crashing the format guess', () => {
  const file = path.join(ws.root, 'first-record.jsonl');
  fs.writeFileSync(file, 'false\n{"prompt": "a b", "target": "c"}\n');
  assert.throws(() => readDataset(file), (e: unknown) => e instanceof ElderError && /record 1 is not a JSON object/.test((e as Error).message));
});

test('error messages quote outside values cut to a readable length', () => {
  const long = 'a'.repeat(10_000);
  const config = JSON.parse(fs.readFileSync(path.join(ws.modelDir, 'config.json'), 'utf8'));
  const dir = withFile('long-activation', 'config.json', JSON.stringify({ ...config, activation_function: long }));
  assert.throws(() => loadModel(dir), (e: unknown) => e instanceof ElderError && (e as Error).message.length < 300 && /activation_function "a{60}…"/.test((e as Error).message));
  assert.throws(
    () => parseEditsJsonl(JSON.stringify({ prompt: 'The capital of Norway is', target: 'Bergen', subject: long }), 'e.jsonl'),
    (e: unknown) => e instanceof ElderError && (e as Error).message.length < 300,
  );
});
