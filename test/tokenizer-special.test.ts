import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { tokenizeEdit } from '../src/editors/edit.js';
import { parseConfig } from '../src/models/config.js';
import { TextTokenizer } from '../src/models/tokenizer.js';
import { gpt2TokenizerDir, writeSentencePieceTokenizer } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-tokenizers-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** The pre-tokenizer of Llama 3's tokenizer.json: a regex split, then bytes mapped without a second regex. */
const LLAMA3_PRE_TOKENIZER = {
  type: 'Sequence',
  pretokenizers: [
    {
      type: 'Split',
      pattern: {
        Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      },
      behavior: 'Isolated',
      invert: false,
    },
    { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
};

/**
 * A tokenizer.json of the kind a family ships: GPT-2's byte-level BPE with the
 * family's special start token added and a TemplateProcessing post-processor
 * that puts it before every text (Llama 3's `<|begin_of_text|>`, Gemma's `<bos>`).
 */
function familyTokenizer(name: string, bos: string, preTokenizer: unknown): { dir: string; bosId: number } {
  const json = JSON.parse(fs.readFileSync(path.join(gpt2TokenizerDir, 'tokenizer.json'), 'utf8')) as Record<string, unknown> & {
    added_tokens: Array<Record<string, unknown>>;
  };
  const bosId = 50257;
  json.added_tokens.push({ id: bosId, content: bos, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  json.pre_tokenizer = preTokenizer;
  json.post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: bos, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: bos, type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  return { dir, bosId };
}

/** A tokenizer.json of Gemma's kind ({@link writeSentencePieceTokenizer}) with a few merges, `<bos>` at id 2 as Gemma has it. */
function gemmaTokenizer(): { dir: string; bosId: number } {
  const dir = path.join(tmp, 'gemma');
  fs.mkdirSync(dir);
  writeSentencePieceTokenizer(dir, { bosId: 2, eosId: 1, merges: ['▁ c', '▁c a', '▁ F', '▁F r'] });
  return { dir, bosId: 2 };
}

for (const [name, bos, make] of [
  ['llama3', '<|begin_of_text|>', () => familyTokenizer('llama3', '<|begin_of_text|>', LLAMA3_PRE_TOKENIZER)],
  ['gemma', '<bos>', gemmaTokenizer],
] as const) {
  test(`${name}-style tokenizer: prompts start with ${bos} as the post-processor puts it; an edit's target is a continuation without it; the subject span skips it`, () => {
    const { dir, bosId } = make();
    const tokenizer = TextTokenizer.load(dir)!;
    const ids = tokenizer.encode('The capital of France is');
    assert.equal(ids[0], bosId);
    assert.equal(tokenizer.decode(ids.slice(1)), 'The capital of France is');
    const config = parseConfig(
      {
        model_type: 'llama',
        vocab_size: 50258,
        hidden_size: 8,
        intermediate_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        max_position_embeddings: 64,
        bos_token_id: bosId,
        eos_token_id: 50256,
      },
      'inline',
    );
    const edit = tokenizeEdit(tokenizer, config, { id: 'e', label: 'e', prompt: 'The capital of France is', target: 'Lyon', subject: 'France' });
    assert.equal(edit.promptIds[0], bosId);
    assert.ok(!edit.targetIds.includes(bosId), 'the target carries no start token');
    assert.equal(tokenizer.decode(edit.targetIds), ' Lyon');
    assert.equal(tokenizer.decode(edit.promptIds.slice(edit.subjectStart!, edit.subjectEnd! + 1)), ' France');
  });
}
