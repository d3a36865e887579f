/**
 * Held-out general text: the general documents pretraining never trains on
 * (every 50th, as `mixedTokenSplit` holds them out), kept beside the fact
 * table so that `elder eval-base` measures perplexity without the Debian
 * packages, and the benchmark takes general-text locality prompts from it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../tensor/backends/native.js';
import { CheckpointError } from '../util/errors.js';

/** Every this-many-th general document is held out (the default of `mixedTokenSplit`). */
export const VALIDATION_EVERY = 50;

export function defaultGeneralTextPath(): string {
  return path.join(packageRoot(), 'bench', 'data', 'facts', 'general-heldout.jsonl');
}

export function heldOutDocuments(documents: readonly string[]): string[] {
  return documents.filter((_, i) => i % VALIDATION_EVERY === VALIDATION_EVERY - 1);
}

/** General documents as one token stream, each followed by end-of-text (how pretraining saw them). */
export function generalTextIds(documents: readonly string[], encode: (text: string) => readonly number[], endOfText: number): number[] {
  const ids: number[] = [];
  for (const doc of documents) {
    for (const id of encode(doc)) ids.push(id);
    ids.push(endOfText);
  }
  return ids;
}

/** One JSON string per line. */
export function readGeneralText(file = defaultGeneralTextPath()): string[] {
  let lines: string[];
  try {
    lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '');
  } catch (error) {
    throw new CheckpointError(file, `cannot read held-out general text (${(error as Error).message}); rebuild it with npm run facts:table`);
  }
  return lines.map((line, i) => {
    try {
      const doc = JSON.parse(line) as unknown;
      if (typeof doc !== 'string') throw new Error('not a string');
      return doc;
    } catch (error) {
      throw new CheckpointError(file, `line ${i + 1}: expected a JSON string (${(error as Error).message})`);
    }
  });
}
