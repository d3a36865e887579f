/**
 * Documents → one token stream per split, each document followed by the
 * end-of-text token so the model learns where texts stop. Every
 * `validationEvery`-th document is held out, so both splits sample the whole
 * corpus rather than its first or last source.
 */
import type { TextTokenizer } from '../models/tokenizer.js';
import type { TokenSplit } from './pretrain.js';

export function tokenizeDocuments(documents: readonly string[], tokenizer: TextTokenizer, endOfText: number, validationEvery = 50): TokenSplit {
  const train: number[] = [];
  const validation: number[] = [];
  documents.forEach((doc, i) => {
    const target = i % validationEvery === validationEvery - 1 ? validation : train;
    for (const id of tokenizer.encode(doc)) target.push(id);
    target.push(endOfText);
  });
  return { train: Int32Array.from(train), validation: Int32Array.from(validation) };
}
