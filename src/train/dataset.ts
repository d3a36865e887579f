/**
 * Documents → one token stream per split, each document followed by the
 * end-of-text token so the model learns where texts stop. Every
 * `validationEvery`-th document is held out, so both splits sample the whole
 * corpus rather than its first or last source.
 */
import type { TextTokenizer } from '../models/tokenizer.js';
import { Random } from '../util/random.js';
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

/**
 * General text mixed with fact sentences: every `validationEvery`-th general
 * document is held out for validation (facts never are: they are what the
 * model must learn), the rest and `factRepeats` copies of every fact sentence
 * are shuffled together (seeded), and each document's start is recorded so
 * training windows can begin at one.
 */
export function mixedTokenSplit(
  generalDocuments: readonly string[],
  factSentences: readonly string[],
  tokenizer: TextTokenizer,
  endOfText: number,
  options: { factRepeats: number; seed: number; validationEvery?: number },
): TokenSplit & { trainStarts: Int32Array; factTokens: number; generalTokens: number } {
  const validationEvery = options.validationEvery ?? 50;
  const documents: number[][] = [];
  const validation: number[] = [];
  let generalTokens = 0;
  generalDocuments.forEach((doc, i) => {
    const ids = tokenizer.encode(doc);
    ids.push(endOfText);
    if (i % validationEvery === validationEvery - 1) for (const id of ids) validation.push(id);
    else {
      documents.push(ids);
      generalTokens += ids.length;
    }
  });
  const facts = factSentences.map((sentence) => [...tokenizer.encode(sentence), endOfText]);
  let factTokens = 0;
  for (let r = 0; r < options.factRepeats; r++) {
    for (const ids of facts) {
      documents.push(ids);
      factTokens += ids.length;
    }
  }
  new Random(options.seed).shuffle(documents);
  const train = new Int32Array(generalTokens + factTokens);
  const trainStarts = new Int32Array(documents.length);
  let offset = 0;
  documents.forEach((ids, i) => {
    trainStarts[i] = offset;
    train.set(ids, offset);
    offset += ids.length;
  });
  return { train, validation: Int32Array.from(validation), trainStarts, factTokens, generalTokens };
}

/** Up to `count` consecutive windows of `length` tokens of a token stream (the remainder is dropped). */
export function tokenWindows(ids: ArrayLike<number>, length: number, count = Infinity): number[][] {
  const windows: number[][] = [];
  for (let start = 0; start + length <= ids.length && windows.length < count; start += length) {
    windows.push(Array.from({ length }, (_, t) => ids[start + t]));
  }
  return windows;
}
