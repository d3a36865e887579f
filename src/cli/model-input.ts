import { loadModel } from '../models/load.js';
import type { DecoderLM } from '../models/decoder.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { CheckpointError, UsageError } from '../util/errors.js';

/** Commands that take text need the folder's tokenizer. */
export function requireTokenizer(tokenizer: TextTokenizer | null, dir: string): TextTokenizer {
  if (tokenizer === null) throw new CheckpointError(dir, 'no tokenizer.json in the model folder (text commands need one)');
  return tokenizer;
}

/** Loads a model folder for a text command and encodes its text input, which must not be empty. */
export function loadForText(dir: string, text: string, what: string): { model: DecoderLM; tokenizer: TextTokenizer; ids: number[] } {
  const { model, tokenizer } = loadModel(dir);
  const tok = requireTokenizer(tokenizer, dir);
  const ids = tok.encode(text);
  if (ids.length === 0) throw new UsageError(`${what} encodes to no tokens`);
  return { model, tokenizer: tok, ids };
}
