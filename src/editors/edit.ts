/**
 * Edit requests (the JSONL schema shared by the CLI, the service and the
 * benchmark runner) and their tokenization into prompt and target ids.
 */

import type { ModelConfig } from '../models/config.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { ElderError, InputError, quote } from '../util/errors.js';

/** One line of an edits file: `{"id"?, "prompt", "target", "rephrases"?, "label"?}`. */
export interface EditRequest {
  id?: string;
  prompt: string;
  target: string;
  /** Further prompts applied as edits with the same label and target. */
  rephrases?: string[];
  /** Edits with the same label share one pre-assigned allocation (default: the id). */
  label?: string;
  /** What the edit is about, as written in the prompt and its rephrases (ELDER's subject gate keys on it). */
  subject?: string;
}

/** An edit ready for training: ids, label, and its token ids. */
export interface TokenizedEdit {
  id: string;
  label: string;
  prompt: string;
  target: string;
  promptIds: number[];
  targetIds: number[];
  /** Index in `promptIds` of the subject's last token, when the edit names a subject its prompt contains. */
  subjectEnd?: number;
  /** Index in `promptIds` of the subject's first token (with `subjectEnd`). */
  subjectStart?: number;
  /** The subject's tokens as a text's opening words (with `subjectEnd`): BPE spells a word differently there than after a space. */
  subjectIds?: number[];
  /** What the base model says after its own answer to the prompt ({@link answerEnding} in `ending.ts`): trained after the target by editors that teach answers to end. */
  endingIds?: number[];
}

/**
 * The target as it continues the prompt: a leading space is added when neither
 * side has whitespace at the join, as ZsRE/COUNTERFACT targets are written bare.
 */
export function joinTarget(prompt: string, target: string): string {
  return /\s$/.test(prompt) || /^\s/.test(target) ? target : ` ${target}`;
}

/** An edit before tokenization. */
export interface EditText {
  id: string;
  label: string;
  prompt: string;
  target: string;
  subject?: string;
}

/** Index of the subject's last token in the prompt's ids (the last occurrence), or undefined when the prompt lacks it. */
export function subjectEndOf(tokenizer: TextTokenizer, prompt: string, promptIds: readonly number[], subject: string | undefined): number | undefined {
  return subjectSpanOf(tokenizer, prompt, promptIds, subject)?.end;
}

/** Indices of the subject's first and last tokens in the prompt's ids (its last occurrence), or undefined when the prompt lacks it. */
export function subjectSpanOf(
  tokenizer: TextTokenizer,
  prompt: string,
  promptIds: readonly number[],
  subject: string | undefined,
): { start: number; end: number } | undefined {
  if (subject === undefined || subject === '') return undefined;
  const at = prompt.lastIndexOf(subject);
  if (at < 0) return undefined;
  const end = tokenizer.encode(prompt.slice(0, at + subject.length)).length - 1;
  if (end < 0) return undefined;
  const last = Math.min(end, promptIds.length - 1);
  // Tokens wholly before the subject; a token merging across its first character counts as the subject's.
  const before = at === 0 ? 0 : tokenizer.encode(prompt.slice(0, at).trimEnd()).length;
  return { start: Math.min(before, last), end: last };
}

/**
 * The target as trained: trailing whitespace removed (an answer that ends in a
 * space would teach the model to stop mid-sentence); one that holds the
 * model's end-of-text marker is refused, since elder teaches where an answer
 * ends and a marker inside it would train a model that cannot.
 */
function normaliseTarget(tokenizer: TextTokenizer, config: ModelConfig, edit: EditText): string {
  for (const eos of config.eosTokenIds) {
    const marker = tokenizer.decode([eos]);
    if (marker !== '' && edit.target.includes(marker))
      throw new InputError(
        `edit ${quote(edit.id)}: the target holds the end-of-text marker ${quote(marker)}; give the answer alone (elder trains where it ends)`,
      );
  }
  const target = edit.target.trimEnd();
  if (target.trim() === '') throw new InputError(`edit ${quote(edit.id)}: the target is empty or only whitespace`);
  return target;
}

export function tokenizeEdit(tokenizer: TextTokenizer, config: ModelConfig, text: EditText): TokenizedEdit {
  const edit = { ...text, target: normaliseTarget(tokenizer, config, text) };
  const promptIds = tokenizer.encode(edit.prompt);
  const target = joinTarget(edit.prompt, edit.target);
  const fullIds = tokenizer.encode(edit.prompt + target);
  let targetIds: number[];
  if (fullIds.length > promptIds.length && promptIds.every((id, i) => fullIds[i] === id)) {
    targetIds = fullIds.slice(promptIds.length);
  } else {
    // The join merged across the boundary: encode the target alone, without a leading BOS.
    targetIds = tokenizer.encode(target);
    while (targetIds.length > 0 && targetIds[0] === config.bosTokenId) targetIds.shift();
  }
  if (promptIds.length === 0) throw new InputError(`edit ${quote(edit.id)}: the prompt encodes to no tokens`);
  if (targetIds.length === 0) throw new InputError(`edit ${quote(edit.id)}: the target encodes to no tokens`);
  if (targetIds.some((id) => config.eosTokenIds.includes(id)))
    throw new InputError(`edit ${quote(edit.id)}: the target encodes to the end-of-text token; give the answer alone (elder trains where it ends)`);
  if (promptIds.length + targetIds.length > config.contextLength) {
    throw new InputError(
      `edit ${quote(edit.id)}: prompt and target take ${promptIds.length + targetIds.length} tokens, the model's context is ${config.contextLength}`,
    );
  }
  const span = subjectSpanOf(tokenizer, edit.prompt, promptIds, edit.subject);
  if (span === undefined) return { ...edit, promptIds, targetIds };
  return { ...edit, promptIds, targetIds, subjectEnd: span.end, subjectStart: span.start, subjectIds: tokenizer.encode(edit.subject!) };
}

/**
 * Tokenizes every edit, collecting what is wrong with each (named by id)
 * instead of stopping at the first, so a caller can report them all.
 */
export function tokenizeEdits(
  tokenizer: TextTokenizer,
  config: ModelConfig,
  edits: ReadonlyArray<EditText>,
): { tokenized: TokenizedEdit[]; problems: Array<{ id: string; message: string }> } {
  const tokenized: TokenizedEdit[] = [];
  const problems: Array<{ id: string; message: string }> = [];
  for (const edit of edits) {
    try {
      tokenized.push(tokenizeEdit(tokenizer, config, edit));
    } catch (error) {
      if (!(error instanceof ElderError)) throw error;
      problems.push({ id: edit.id, message: error.message });
    }
  }
  return { tokenized, problems };
}

/** Expands requests into edits: each rephrase becomes an edit `${id}#${n}` sharing the label and target. */
export function expandRequests(requests: readonly EditRequest[], firstIndex = 0): EditText[] {
  const edits: EditText[] = [];
  requests.forEach((request, i) => {
    const id = request.id ?? `edit-${firstIndex + i + 1}`;
    const label = request.label ?? id;
    const subject = request.subject === undefined ? {} : { subject: request.subject };
    edits.push({ id, label, prompt: request.prompt, target: request.target, ...subject });
    (request.rephrases ?? []).forEach((prompt, n) => {
      edits.push({ id: `${id}#${n + 1}`, label, prompt, target: request.target, ...subject });
    });
  });
  return edits;
}
