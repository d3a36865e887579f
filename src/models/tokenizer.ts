/** Text ↔ token ids through `tokenizer.json`, using Hugging Face's maintained tokenizers.js. */
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError } from '../util/errors.js';

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
    const idLimit = tokenizerIdLimit(json, file);
    try {
      return new TextTokenizer(new Tokenizer(json, config), dir, idLimit);
    } catch (error) {
      throw new CheckpointError(file, `cannot build the tokenizer (${(error as Error).message})`);
    }
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
  for (const token of (json.added_tokens as Array<{ id?: unknown }> | undefined) ?? []) if (typeof token.id === 'number' && token.id + 1 > limit) limit = token.id + 1;
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
