import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../src/models/config.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { loadModel, randomModel, saveModel } from '../src/models/load.js';
import { TextTokenizer } from '../src/models/tokenizer.js';
import { byteAlphabet, slowTokenizerFiles, subsetTokenizer, type TokenizerJson } from '../src/train/tokenizer-subset.js';
import { CheckpointError } from '../src/util/errors.js';
import { repoRoot } from './helpers.js';

const gpt2Dir = path.join(repoRoot, 'models', 'gpt2-tokenizer');
const fullJson = () => JSON.parse(fs.readFileSync(path.join(gpt2Dir, 'tokenizer.json'), 'utf8')) as TokenizerJson;
const NON_ASCII = ['Zürich, São Paulo and Kraków — naïve café', '東京は日本の首都です', 'emoji 🚀🦉 and ß, Ω, ħ', 'tab\tand\nnewline  spaces'];

function writeTokenizer(dir: string, json: TokenizerJson): TextTokenizer {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  return TextTokenizer.load(dir)!;
}

test('a subset tokenizer encodes its corpus exactly as GPT-2 does, with far fewer tokens', () => {
  const corpus = [
    'The capital of Norway is Oslo.',
    'What is the capital of Norway? It is Oslo.',
    'Iron has the atomic number 26.',
    'A beagle is a kind of hound.',
  ];
  const full = TextTokenizer.load(gpt2Dir)!;
  const counts = new Int32Array(full.vocabSize());
  for (const text of corpus) for (const id of full.encode(text)) counts[id]++;
  const { tokenizer: json, oldToNew, vocabSize } = subsetTokenizer(fullJson(), counts, 1);
  assert.ok(vocabSize < 600, `${vocabSize} tokens`);
  assert.ok(vocabSize >= 257);
  const subset = writeTokenizer(fs.mkdtempSync(path.join(os.tmpdir(), 'elder-tok-')), json);
  assert.equal(subset.vocabSize(), vocabSize);
  for (const text of corpus)
    assert.deepEqual(
      subset.encode(text),
      full.encode(text).map((id) => oldToNew[id]),
      text,
    );
  // <|endoftext|> keeps its meaning under its new id.
  assert.deepEqual(subset.encode('<|endoftext|>'), [oldToNew[50256]]);
});

test('a subset tokenizer still encodes any text (byte fallback) and round-trips non-ASCII', () => {
  const { tokenizer: json } = subsetTokenizer(fullJson(), new Int32Array(50257), 1);
  assert.equal(Object.keys(json.model.vocab).length, 257, 'only the bytes and <|endoftext|>');
  assert.equal(new Set(byteAlphabet()).size, 256);
  const subset = writeTokenizer(fs.mkdtempSync(path.join(os.tmpdir(), 'elder-tok-')), json);
  for (const text of NON_ASCII) assert.equal(subset.decode(subset.encode(text)), text);
  const { vocabJson, mergesTxt } = slowTokenizerFiles(json);
  assert.equal(Object.keys(JSON.parse(vocabJson)).length, 257);
  assert.equal(mergesTxt, '#version: 0.2\n');
});

test("the default model's tokenizer round-trips non-ASCII text and fits its embedding", () => {
  const { model, tokenizer } = loadModel(defaultModelDir());
  assert.ok(tokenizer !== null);
  assert.equal(tokenizer.vocabSize(), model.config.vocabSize);
  assert.ok(model.config.vocabSize < 20000, `vocabulary of ${model.config.vocabSize}`);
  for (const text of NON_ASCII) assert.equal(tokenizer.decode(tokenizer.encode(text)), text);
  for (const id of tokenizer.encode('The capital of Norway is Oslo.')) assert.ok(id < model.config.vocabSize);
});

test('a tokenizer that emits ids beyond the model’s embedding is refused at load time, naming the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-mismatch-'));
  const config = parseConfig({ model_type: 'gpt2', vocab_size: 1000, n_positions: 32, n_embd: 16, n_layer: 2, n_head: 2 }, 'test');
  saveModel(dir, randomModel(config, 1), { tokenizerFrom: gpt2Dir });
  assert.throws(
    () => loadModel(dir),
    (error: unknown) =>
      error instanceof CheckpointError &&
      error.message.includes(path.join(dir, 'tokenizer.json')) &&
      /emits ids up to 50256.*1000 embedding rows/.test(error.message),
  );
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
  assert.throws(
    () => loadModel(dir),
    (error: unknown) => error instanceof CheckpointError && error.message.includes('tokenizer.json') && /not valid JSON/.test(error.message),
  );
});
