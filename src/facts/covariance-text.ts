/**
 * The text a model's key covariance is measured on: a file the user names
 * (JSON lines of strings, or plain text), or, for the embedded elder-facts,
 * its own pretraining mix. Another model's training text is not known here,
 * so measuring it without a file is refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultModelDir } from '../models/default-model.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { tokenWindows } from '../train/dataset.js';
import { InputError, UsageError } from '../util/errors.js';
import { trainingTextWindows } from './training-text.js';

/** Tokens measured by default (ROME estimates GPT-2 XL's from 100,000 Wikipedia samples). */
export const COVARIANCE_TOKENS = 100_000;

export interface CovarianceTextOptions {
  modelDir: string;
  tokenizer: TextTokenizer;
  endOfText: number;
  /** Window length (at most the model's context). */
  windowLength: number;
  tokens: number;
  /** JSONL of strings, or plain text; default: elder-facts' pretraining mix (elder-facts only). */
  textFile?: string;
}

/** A deferred reader of the covariance text (called only when a covariance must be measured). */
export function covarianceText(options: CovarianceTextOptions): () => { windows: number[][]; description: string } {
  return () => {
    if (options.textFile !== undefined) return fileWindows(options);
    if (path.resolve(options.modelDir) !== path.resolve(defaultModelDir())) {
      throw new UsageError(
        `no key covariance is cached for ${options.modelDir}, and its training text is unknown here: measure it with elder covariance --model ${options.modelDir} --text FILE (text like the model's training data)`,
      );
    }
    return trainingTextWindows(options.tokenizer, options.endOfText, options.tokens, options.windowLength);
  };
}

function fileWindows(options: CovarianceTextOptions): { windows: number[][]; description: string } {
  const file = options.textFile!;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`${file}: cannot read the covariance text (${(error as Error).message})`);
  }
  const documents = file.endsWith('.jsonl')
    ? text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line, i) => {
          try {
            const doc = JSON.parse(line) as unknown;
            if (typeof doc !== 'string') throw new Error('not a string');
            return doc;
          } catch (error) {
            throw new InputError(`${file}: line ${i + 1}: expected a JSON string (${(error as Error).message})`);
          }
        })
    : [text];
  const ids: number[] = [];
  for (const doc of documents) {
    if (ids.length >= options.tokens) break;
    for (const id of options.tokenizer.encode(doc)) ids.push(id);
    ids.push(options.endOfText);
  }
  const windows = tokenWindows(ids.slice(0, options.tokens), options.windowLength);
  if (windows.length === 0) throw new InputError(`${file}: fewer than ${options.windowLength} tokens, too little to measure a key covariance on`);
  return { windows, description: `${windows.length * options.windowLength} tokens of ${file}` };
}
