import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli, sharedDir } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-families-cli-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * A small tokenizer.json for a fixture without one: SentencePiece-style BPE
 * over single characters ("▁" for spaces, byte fallback), the family's start
 * and end tokens at the ids its config gives, and the start token put before
 * every text, as Llama 3's and Gemma's tokenizers do.
 */
function writeTokenizer(dir: string, bosId: number, eosId: number): void {
  const vocab: Record<string, number> = {};
  const specials = new Map([
    [bosId, '<bos>'],
    [eosId, '<eos>'],
  ]);
  let next = 0;
  const add = (piece: string) => {
    while (specials.has(next)) vocab[specials.get(next)!] = next++;
    vocab[piece] = next++;
  };
  add('<unk>');
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  for (const piece of ['▁', ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,.:?']) add(piece);
  for (const [id, content] of specials) vocab[content] = id;
  const json = {
    version: '1.0',
    added_tokens: [...specials].map(([id, content]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<bos>': { id: '<bos>', ids: [bosId], tokens: ['<bos>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: [],
    },
  };
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
}

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
    writeTokenizer(model, config.bos_token_id, config.eos_token_id);
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
