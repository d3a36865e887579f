/**
 * The paper's lifelong-editing protocol. Records are taken in file order,
 * skipping those without a rephrasing, until N are found. Each record's
 * prompts P = [prompt, ...rephrases] are split in two: the first ⌈|P|/2⌉ are
 * applied as edits (one label per record, so ELDER gives them one
 * allocation), the remaining ⌊|P|/2⌋ are held out to measure generalization.
 * With a single rephrasing that is: the prompt is edited, the rephrasing held out.
 */

import type { EditText } from '../editors/edit.js';
import type { BenchRecord, LocalityPrompt } from './datasets.js';

export interface StreamRecord {
  id: string;
  target: string;
  /** The answer before the edit, where the record names it (COUNTERFACT `target_true`). */
  trueTarget?: string;
  /** What the edit is about, where the record names it. */
  subject?: string;
  /** Prompts about the subject for fluency, where the record lists them (COUNTERFACT `generation_prompts`). */
  generationPrompts?: string[];
  /** Applied in the stream, in order, with ids `${id}`, `${id}#1`, … */
  edits: EditText[];
  /** Never trained on. */
  heldOut: string[];
  locality: LocalityPrompt[];
}

export function buildStream(records: readonly BenchRecord[], count: number): { stream: StreamRecord[]; skipped: number } {
  const stream: StreamRecord[] = [];
  let skipped = 0;
  for (const record of records) {
    if (stream.length >= count) break;
    if (record.rephrases.length === 0) {
      skipped++;
      continue;
    }
    const prompts = [record.prompt, ...record.rephrases];
    const editCount = Math.ceil(prompts.length / 2);
    stream.push({
      id: record.id,
      target: record.target,
      ...(record.trueTarget === undefined ? {} : { trueTarget: record.trueTarget }),
      ...(record.subject === undefined ? {} : { subject: record.subject }),
      ...(record.generationPrompts === undefined ? {} : { generationPrompts: record.generationPrompts }),
      edits: prompts.slice(0, editCount).map((prompt, i) => ({
        id: i === 0 ? record.id : `${record.id}#${i}`,
        label: record.id,
        prompt,
        target: record.target,
        ...(record.subject !== undefined && prompt.includes(record.subject) ? { subject: record.subject } : {}),
      })),
      heldOut: prompts.slice(editCount),
      locality: record.locality,
    });
  }
  return { stream, skipped };
}
