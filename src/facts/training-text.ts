/**
 * Text the facts model was trained on, as equal token windows: its fact
 * sentences (`bench/data/facts/facts.json` in their training templates) and
 * the Debian general documents (WordNet, fortunes; held-out ones excluded),
 * shuffled together in pretraining's mix. Statistics that must describe what
 * the model saw in training (a locate-then-edit method's key covariance)
 * read from here.
 */
import path from 'node:path';
import type { TextTokenizer } from '../models/tokenizer.js';
import { packageRoot } from '../tensor/backends/native.js';
import { loadDebianCorpus } from '../train/corpus.js';
import { tokenWindows } from '../train/dataset.js';
import { Random } from '../util/random.js';
import { VALIDATION_EVERY } from './general-text.js';
import { defaultFactTablePath, readFactTable, trainingSentences } from './table.js';

/** How often pretraining repeated each fact sentence (models/elder-facts/training.json `factRepeats`): the mix's proportions. */
export const PRETRAINING_FACT_REPEATS = 6;

export interface TrainingTextWindows {
  windows: number[][];
  /** The files read and the token count, for the record. */
  description: string;
}

/**
 * `tokens` tokens (rounded down to whole windows of `length`) of documents
 * drawn in a seeded order from the pretraining mix: every training fact
 * sentence {@link PRETRAINING_FACT_REPEATS} times and every general document
 * pretraining trained on, each followed by end-of-text. Only the drawn
 * documents are tokenized.
 */
export function trainingTextWindows(tokenizer: TextTokenizer, endOfText: number, tokens: number, length: number, seed = 1234): TrainingTextWindows {
  const sentences = trainingSentences(readFactTable());
  const corpus = loadDebianCorpus({ install: false });
  const general = corpus.documents.filter((_, i) => i % VALIDATION_EVERY !== VALIDATION_EVERY - 1);
  const order = Array.from({ length: general.length + sentences.length * PRETRAINING_FACT_REPEATS }, (_, i) => i);
  new Random(seed).shuffle(order);
  const wanted = Math.floor(tokens / length) * length;
  const stream: number[] = [];
  for (const index of order) {
    if (stream.length >= wanted) break;
    const text = index < general.length ? general[index] : sentences[(index - general.length) % sentences.length];
    for (const id of tokenizer.encode(text)) stream.push(id);
    stream.push(endOfText);
  }
  const windows = tokenWindows(stream, length, wanted / length);
  const packages = corpus.sources.map((s) => `${s.package} ${s.version}`).join(', ');
  const tablePath = path.relative(packageRoot(), defaultFactTablePath());
  return {
    windows,
    description: `${windows.length * length} tokens of the pretraining mix (${tablePath} training sentences ×${PRETRAINING_FACT_REPEATS}, ${packages} general text; seed ${seed})`,
  };
}
