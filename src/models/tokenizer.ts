/** Text ↔ token ids through `tokenizer.json`, using Hugging Face's maintained tokenizers.js. */
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError } from '../util/errors.js';

/** Text every tokenizer must encode and decode when it loads: ASCII, digits, accents, an emoji. */
const TOKENIZER_PROBE = 'The capital of Norway is Oslo, 42 — Ünïcödé ✓ 🙂';

export class TextTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly dir: string,
    /** One more than the largest id the tokenizer can emit (vocabulary and added tokens). */
    private readonly idLimit: number,
  ) {}

  /** How many ids the tokenizer can emit: the rows a model's embedding needs at least. */
  vocabSize(): number {
    return this.idLimit;
  }

  /** The tokenizer of a model folder, or null when it has no `tokenizer.json`. */
  static load(dir: string): TextTokenizer | null {
    const file = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(file)) return null;
    const json = readJson(file);
    const configFile = path.join(dir, 'tokenizer_config.json');
    const config = fs.existsSync(configFile) ? readJson(configFile) : {};
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CheckpointError(file, 'not a tokenizer.json (expected a JSON object)');
    const idLimit = tokenizerIdLimit(json, file);
    let tokenizer: TextTokenizer;
    try {
      tokenizer = new TextTokenizer(new Tokenizer(json, config), dir, idLimit);
      // A damaged file can build and still fail on the first text; find out here, where the file can be named.
      tokenizer.decode(tokenizer.encode(TOKENIZER_PROBE));
    } catch (error) {
      throw new CheckpointError(file, `cannot build the tokenizer (${(error as Error).message.split('\n')[0].slice(0, 160)})`);
    }
    return tokenizer;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text).ids;
  }

  decode(ids: readonly number[]): string {
    // tokenizers.js refuses an empty list; a generation that stops at once decodes to nothing.
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids]);
  }
}

function tokenizerIdLimit(json: Record<string, unknown>, file: string): number {
  const model = json.model as { vocab?: unknown } | undefined;
  const vocab = model?.vocab;
  let limit = 0;
  // BPE keeps a token → id object; Unigram a [piece, score] list whose index is the id.
  if (Array.isArray(vocab)) {
    limit = vocab.length;
  } else if (vocab !== null && typeof vocab === 'object') {
    for (const id of Object.values(vocab)) if (typeof id === 'number' && id + 1 > limit) limit = id + 1;
  } else {
    throw new CheckpointError(file, 'no model.vocab: not a tokenizer.json');
  }
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new CheckpointError(file, 'added_tokens must be a list');
  for (const token of added as unknown[]) {
    const id = (token as { id?: unknown } | null)?.id;
    if (token === null || typeof token !== 'object' || typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw new CheckpointError(file, 'added_tokens holds an entry without a non-negative integer id');
    if (id + 1 > limit) limit = id + 1;
  }
  return limit;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new CheckpointError(file, `not valid JSON (${(error as Error).message})`);
  }
}

/** Files that make up a tokenizer, copied along when a checkpoint is saved. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt'] as const;

/** Text work needs the folder's tokenizer: a clear error when the folder has none. */
export function requireTokenizer(tokenizer: TextTokenizer | null, dir: string): TextTokenizer {
  if (tokenizer === null) throw new CheckpointError(dir, 'no tokenizer.json in the model folder (text commands need one)');
  return tokenizer;
}
