import type { DecoderLM } from '../models/decoder.js';
import { loadModel } from '../models/load.js';
import { requireTokenizer, type TextTokenizer } from '../models/tokenizer.js';
import { UsageError } from '../util/errors.js';

export { requireTokenizer };

/** Loads a model folder for a text command and encodes its text input, which must not be empty. */
export function loadForText(dir: string, text: string, what: string): { model: DecoderLM; tokenizer: TextTokenizer; ids: number[] } {
  const { model, tokenizer } = loadModel(dir);
  const tok = requireTokenizer(tokenizer, dir);
  const ids = tok.encode(text);
  if (ids.length === 0) throw new UsageError(`${what} encodes to no tokens`);
  return { model, tokenizer: tok, ids };
}
