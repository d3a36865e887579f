import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tokenizeEdit } from '../src/editors/edit.js';
import { readDataset } from '../src/eval/datasets.js';
import { buildStream } from '../src/eval/protocol.js';
import { type ModelConfig, parseConfig } from '../src/models/config.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { loadModel } from '../src/models/load.js';
import { packageRoot } from '../src/tensor/backends/native.js';
import { backward, Tensor } from '../src/tensor/tensor.js';
import { Random } from '../src/util/random.js';

export const repoRoot = packageRoot();
/** The compiled `elder` command. */
export const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
/** Read-only fixtures beside the repository (tests only; the product never needs them). */
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const tinyGpt2Dir = path.join(sharedDir, 'fixtures', 'tiny-gpt2');
export const tinyLlamaDir = path.join(sharedDir, 'fixtures', 'tiny-llama');
export const gpt2TokenizerDir = path.join(sharedDir, 'tokenizers', 'gpt2');
export const hasShared = existsSync(tinyGpt2Dir);

/** Subjects of the crash and service tests' edits ("Tell me about <subject> and"). */
export const EDIT_SUBJECTS = [
  'Paris',
  'Tokyo',
  'Einstein',
  'Mozart',
  'the Nile',
  'Mars',
  'Python',
  'Shakespeare',
  'Everest',
  'Picasso',
  'Amazon',
  'Newton',
  'Lisbon',
  'Chopin',
  'Venus',
  'Darwin',
  'Sahara',
  'Rome',
  'Kyoto',
  'Bach',
  'Tesla',
  'Oslo',
  'Zeus',
  'Cairo',
];
/**
 * One target for every edit of those tests. On the random-weight fixture
 * ELDER's own retention is poor when later batches teach other targets
 * (bench-edit's retention curve measures that): 2 of 12 such edits survive
 * without any crash. A shared target keeps every edit answerable, so a lost or
 * altered commit shows up as a wrong answer rather than hiding behind forgetting.
 */
export const SHARED_TARGET = 'blue';

export function randomTensor(shape: number[], rng: Random, std = 1, requiresGrad = false): Tensor {
  const t = Tensor.zeros(shape, requiresGrad);
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
  return t;
}

/** Largest |a-b| / (max|b| + tiny): error relative to the reference tensor's scale. */
export function maxRelativeToScale(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return maxDiff / (scale + 1e-30);
}

export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  return maxDiff;
}

/**
 * Compares the autograd gradient of loss = Σ f(inputs)·w (w random, fixed)
 * with central finite differences, on up to `samples` elements per input.
 * Returns the worst mismatch as |analytic − numeric| / (atol + rtol·|numeric|);
 * a value ≤ 1 passes.
 */
export function gradCheck(f: (inputs: Tensor[]) => Tensor, inputs: Tensor[], { eps = 1e-2, atol = 2e-3, rtol = 2e-2, samples = 24, seed = 7 } = {}): number {
  const rng = new Random(seed);
  const probe = f(inputs);
  const weights = Float64Array.from({ length: probe.size }, () => rng.normal());
  const lossOf = (out: Tensor): number => {
    let total = 0;
    for (let i = 0; i < out.size; i++) total += out.data[i] * weights[i];
    return total;
  };
  for (const input of inputs) input.grad = null;
  const out = f(inputs);
  backward(out, Float32Array.from(weights));
  let worst = 0;
  for (const input of inputs) {
    if (!input.requiresGrad) continue;
    const analytic = input.grad ?? new Float32Array(input.size);
    const count = Math.min(samples, input.size);
    for (let s = 0; s < count; s++) {
      const index = input.size <= samples ? s : rng.int(input.size);
      const original = input.data[index];
      input.data[index] = original + eps;
      const plus = lossOf(f(inputs));
      input.data[index] = original - eps;
      const minus = lossOf(f(inputs));
      input.data[index] = original;
      const numeric = (plus - minus) / (2 * eps);
      worst = Math.max(worst, Math.abs(analytic[index] - numeric) / (atol + rtol * Math.abs(numeric)));
    }
  }
  return worst;
}

/**
 * elder-facts, its tokenizer, and the first record of its facts benchmark:
 * the record's edits (prompt and rephrasing, tokenized) and its locality
 * prompts (other subjects' facts). Baseline tests edit this one record.
 */
export function factsFirstRecord() {
  const { model, tokenizer } = loadModel(defaultModelDir());
  const tok = tokenizer!;
  const dataset = readDataset(path.join(repoRoot, 'bench', 'data', 'facts', 'counterfact.json'), 'counterfact');
  const record = buildStream(dataset.records, 1).stream[0];
  const edits = record.edits.map((e) => tokenizeEdit(tok, model.config, e));
  const unrelated = record.locality.map((item) => tok.encode(item.prompt));
  return { model, tok, record, edits, unrelated };
}

/** A LLaMA small enough for finite differences: GQA (4 heads, 2 KV heads), RoPE, tied embeddings. */
export const smallLlama: ModelConfig = parseConfig(
  {
    model_type: 'llama',
    vocab_size: 50,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 32,
    rms_norm_eps: 1e-6,
    rope_theta: 500,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
  },
  'inline',
);

/**
 * Writes `dir/tokenizer.json` of Gemma's kind: SentencePiece-style BPE over
 * "▁"-joined text (a Replace normalizer, no pre-tokenizer), single
 * characters plus `merges` (and the pieces they make), byte fallback for what
 * the vocabulary lacks, the start and end tokens at the given ids, and the
 * start token put before every text by TemplateProcessing, as Llama 3's and
 * Gemma's tokenizers do.
 */
export function writeSentencePieceTokenizer(dir: string, options: { bosId: number; eosId: number; merges?: readonly string[] }): void {
  const { bosId, eosId } = options;
  const merges = options.merges ?? [];
  const specials = new Map([
    [bosId, '<bos>'],
    [eosId, '<eos>'],
  ]);
  const vocab: Record<string, number> = {};
  let next = 0;
  const add = (piece: string) => {
    while (specials.has(next)) vocab[specials.get(next)!] = next++;
    vocab[piece] = next++;
  };
  add('<unk>');
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  for (const piece of ['▁', ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,.:?', ...merges.map((m) => m.replace(' ', ''))]) add(piece);
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
      merges,
    },
  };
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
}
