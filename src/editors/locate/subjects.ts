/**
 * The subject requirement of the locate-then-edit methods (ROME, WilKE,
 * MEMIT, AlphaEdit): each writes its edit at the subject's last token, so an
 * edit that names no subject its prompt contains is refused before any
 * training, never edited at another token.
 */
import { quote, UsageError } from '../../util/errors.js';
import type { TokenizedEdit } from '../edit.js';

/** An edit a locate-then-edit method cannot place: no subject, or a subject its prompt lacks. */
export class MissingSubjectError extends UsageError {}

/** Throws {@link MissingSubjectError} naming the first of `edits` without a subject span in its prompt. */
export function requireSubjects(method: string, edits: readonly Pick<TokenizedEdit, 'id' | 'prompt' | 'subjectEnd'>[]): void {
  const missing = edits.find((edit) => edit.subjectEnd === undefined);
  if (missing === undefined) return;
  throw new MissingSubjectError(
    `edit ${quote(missing.id)} has no "subject" found in its prompt ${quote(missing.prompt)}: ${method} writes an edit at the subject's last token (give "subject" as written in the prompt)`,
  );
}
