import type { TextTokenizer } from '../models/tokenizer.js';
import { CheckpointError } from '../util/errors.js';

/** Commands that take text need the folder's tokenizer. */
export function requireTokenizer(tokenizer: TextTokenizer | null, dir: string): TextTokenizer {
  if (tokenizer === null) throw new CheckpointError(dir, 'no tokenizer.json in the model folder (text commands need one)');
  return tokenizer;
}
