// Bugs `npm run fuzz` found, one test each, so that they stay fixed. (The state folder's and the
// server's are in elder-editor.test.ts and server.test.ts.)

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { copyModel, createWorkspace } from '../fuzz/workspace.js';
import { parseEditsJsonl } from '../src/editors/edits-file.js';
import { appendJournal, readJournal } from '../src/editors/elder/store/journal.js';
import { readDataset } from '../src/eval/datasets.js';
import { loadModel } from '../src/models/load.js';
import { CheckpointError, ElderError } from '../src/util/errors.js';

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
  for (const [name, added] of [
    ['null-entry', [null]],
    ['not-a-list', { id: 3 }],
    ['no-id', [{ content: 'x' }]],
  ] as const) {
    const dir = withFile(`tokenizer-${name}`, 'tokenizer.json', JSON.stringify({ ...json, added_tokens: added }));
    assert.throws(
      () => loadModel(dir),
      (e: unknown) => e instanceof CheckpointError && /tokenizer\.json: added_tokens/.test((e as Error).message),
      name,
    );
  }
});

test('a config.json with a size no real model has is refused before anything is allocated for it', () => {
  const config = JSON.parse(fs.readFileSync(path.join(ws.modelDir, 'config.json'), 'utf8'));
  for (const [key, value] of [
    ['n_layer', 4294967297],
    ['n_layer', 1e9],
    ['n_embd', 2 ** 40],
    ['vocab_size', 2 ** 31],
  ] as const) {
    const dir = withFile(`huge-${key}-${value}`, 'config.json', JSON.stringify({ ...config, [key]: value }));
    assert.throws(
      () => loadModel(dir),
      (e: unknown) => e instanceof CheckpointError && new RegExp(`"${key}" is ${value}, beyond any real model`).test((e as Error).message),
      `${key} ${value}`,
    );
  }
});

test('a benchmark file whose first record is not an object says so instead of crashing the format guess', () => {
  const file = path.join(ws.root, 'first-record.jsonl');
  fs.writeFileSync(file, 'false\n{"prompt": "a b", "target": "c"}\n');
  assert.throws(
    () => readDataset(file),
    (e: unknown) => e instanceof ElderError && /record 1 is not a JSON object/.test((e as Error).message),
  );
});

test('error messages quote outside values cut to a readable length', () => {
  const long = 'a'.repeat(10_000);
  const config = JSON.parse(fs.readFileSync(path.join(ws.modelDir, 'config.json'), 'utf8'));
  const dir = withFile('long-activation', 'config.json', JSON.stringify({ ...config, activation_function: long }));
  assert.throws(
    () => loadModel(dir),
    (e: unknown) => e instanceof ElderError && (e as Error).message.length < 300 && /activation_function "a{60}…"/.test((e as Error).message),
  );
  const tokenizer = JSON.parse(fs.readFileSync(path.join(ws.modelDir, 'tokenizer.json'), 'utf8'));
  const unknownDecoder = withFile('long-decoder', 'tokenizer.json', JSON.stringify({ ...tokenizer, decoder: { type: long } }));
  assert.throws(
    () => loadModel(unknownDecoder),
    (e: unknown) => e instanceof CheckpointError && (e as Error).message.length < 400,
  );
  assert.throws(
    () => parseEditsJsonl(JSON.stringify({ prompt: 'The capital of Norway is', target: 'Bergen', subject: long }), 'e.jsonl'),
    (e: unknown) => e instanceof ElderError && (e as Error).message.length < 300,
  );
});

test('journal tail: a torn write is dropped; a whole sealed record missing or with a damaged newline is kept and its newline restored', () => {
  const file = path.join(ws.root, 'journal.jsonl');
  const write = () => {
    fs.rmSync(file, { force: true });
    appendJournal(file, 1, { type: 'retract', id: 'a' });
    appendJournal(file, 2, { type: 'retract', id: 'b' });
    return fs.readFileSync(file);
  };
  const full = write();
  const ids = (records: Array<{ type: string; id?: string }>) => records.map((r) => r.id);

  fs.writeFileSync(file, full.subarray(0, full.length - 20));
  assert.deepEqual(ids(readJournal(file, true) as any), ['a']);
  assert.equal(fs.readFileSync(file).length, full.indexOf(0x0a) + 1, 'the torn tail is truncated away');

  fs.writeFileSync(file, full.subarray(0, full.length - 1));
  assert.deepEqual(ids(readJournal(file, true) as any), ['a', 'b']);
  assert.deepEqual(fs.readFileSync(file), full, 'the missing newline is restored');

  const flipped = Buffer.from(full);
  flipped[flipped.length - 1] ^= 0x20;
  fs.writeFileSync(file, flipped);
  assert.deepEqual(ids(readJournal(file, false) as any), ['a', 'b']);
  assert.deepEqual(fs.readFileSync(file), flipped, 'reading without repair writes nothing');
  readJournal(file, true);
  assert.deepEqual(fs.readFileSync(file), full, 'the damaged newline is restored');

  // A damaged byte inside a complete line is never taken for a torn write.
  const inner = Buffer.from(full);
  inner[full.indexOf(0x0a) + 10] ^= 0x01;
  fs.writeFileSync(file, inner);
  assert.throws(() => readJournal(file, true), /line 2 is corrupt/);
});
