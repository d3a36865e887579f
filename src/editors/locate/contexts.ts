/**
 * The prompts a locate-then-edit method computes on: each edit's prompt
 * behind a few random prefixes (ROME averages keys and fits values over
 * them, so that the edit holds whatever text precedes the subject), and the
 * "{subject} is a" prompts whose next-token distribution ROME's KL term
 * keeps (the subject's other properties).
 */
import type { DecoderLM } from '../../models/decoder.js';
import { generate } from '../../models/generate.js';
import { type PreparedBatch, padTokenId, prepareBatch } from '../common/batch.js';
import type { TokenizedEdit } from '../edit.js';
import { requireSubjects } from './subjects.js';

/**
 * `count` prefixes of `length` tokens sampled from the model (temperature
 * 1, seeded), each closed by end-of-text, after an empty one. ROME samples
 * ten 10-token texts and joins them with ". "; an editor here holds token
 * ids only, so a prefix ends the way a document ends in pretraining.
 */
export function samplePrefixes(model: DecoderLM, count: number, length: number, seed: number): number[][] {
  const end = padTokenId(model.config);
  const prefixes: number[][] = [[]];
  for (let i = 0; i < count; i++) {
    const sampled = generate(model, [end], { maxTokens: length, temperature: 1, seed: seed * 7919 + i, stopIds: [] }).ids;
    prefixes.push([...sampled, end]);
  }
  return prefixes;
}

/** Sequences of edits, padded into one batch, with where each one's subject ends and which edit it belongs to. */
export interface ContextBatch extends PreparedBatch {
  /** Row (b·T + t) of the subject's last token in each sequence. */
  subjectRows: Int32Array;
  /** The edit (index into the edits given) of each sequence. */
  editOf: Int32Array;
}

/** Per edit with a subject, "{subject} is a": the same layout, the distribution read at each sequence's last token. */
export type EssenceBatch = ContextBatch;

/** One sequence of a {@link ContextBatch}: its prompt and target, its subject's last token, its edit. */
interface SubjectSequence {
  promptIds: number[];
  targetIds: number[];
  subject: number;
  edit: number;
}

function subjectBatch(model: DecoderLM, sequences: readonly SubjectSequence[]): ContextBatch {
  const prepared = prepareBatch(sequences, padTokenId(model.config));
  return {
    ...prepared,
    subjectRows: Int32Array.from(sequences, (s, b) => b * prepared.tokens.steps + s.subject),
    editOf: Int32Array.from(sequences, (s) => s.edit),
  };
}

/** The subject's last token in an edit's prompt: ROME's "subject_last" position. */
export function subjectPosition(edit: Pick<TokenizedEdit, 'id' | 'prompt' | 'promptIds' | 'subjectEnd'>): number {
  if (edit.subjectEnd === undefined) requireSubjects('a locate-then-edit method', [edit]);
  return edit.subjectEnd as number;
}

/** Edits × prefixes (edit-major), each sequence prefix + prompt + target. */
export function contextBatch(model: DecoderLM, edits: readonly TokenizedEdit[], prefixes: readonly (readonly number[])[]): ContextBatch {
  const room = model.config.contextLength;
  const sequences: SubjectSequence[] = [];
  edits.forEach((edit, e) => {
    for (const prefix of prefixes) {
      // A prefix that would push the edit past the context is dropped for it, not truncated into it.
      if (prefix.length + edit.promptIds.length + edit.targetIds.length > room) continue;
      sequences.push({ promptIds: [...prefix, ...edit.promptIds], targetIds: edit.targetIds, subject: prefix.length + subjectPosition(edit), edit: e });
    }
  });
  return subjectBatch(model, sequences);
}

/**
 * The essence prompts of the edits that name a subject (null when none
 * does): the subject's tokens followed by `suffix` (the encoded " is a"),
 * with the distribution read at the last token.
 */
export function essenceBatch(model: DecoderLM, edits: readonly TokenizedEdit[], suffix: readonly number[]): EssenceBatch | null {
  const sequences: SubjectSequence[] = [];
  edits.forEach((edit, e) => {
    if (edit.subjectEnd === undefined) return;
    const subject = edit.promptIds.slice(edit.subjectStart ?? edit.subjectEnd, edit.subjectEnd + 1);
    sequences.push({ promptIds: [...subject, ...suffix], targetIds: [], subject: subject.length - 1, edit: e });
  });
  return sequences.length === 0 ? null : subjectBatch(model, sequences);
}
