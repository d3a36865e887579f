/**
 * Edit requests (the JSONL schema shared by the CLI, the service and the
 * benchmark runner) and their tokenization into prompt and target ids.
 */
import type { TextTokenizer } from '../models/tokenizer.js';
import type { ModelConfig } from '../models/config.js';
import { ElderError, InputError } from '../util/errors.js';

/** One line of an edits file: `{"id"?, "prompt", "target", "rephrases"?, "label"?}`. */
export interface EditRequest {
  id?: string;
  prompt: string;
  target: string;
  /** Further prompts applied as edits with the same label and target. */
  rephrases?: string[];
  /** Edits with the same label share one pre-assigned allocation (default: the id). */
  label?: string;
}

/** An edit ready for training: ids, label, and its token ids. */
export interface TokenizedEdit {
  id: string;
  label: string;
  prompt: string;
  target: string;
  promptIds: number[];
  targetIds: number[];
}

/**
 * The target as it continues the prompt: a leading space is added when neither
 * side has whitespace at the join, as ZsRE/COUNTERFACT targets are written bare.
 */
export function joinTarget(prompt: string, target: string): string {
  return /\s$/.test(prompt) || /^\s/.test(target) ? target : ` ${target}`;
}

export function tokenizeEdit(tokenizer: TextTokenizer, config: ModelConfig, edit: { id: string; label: string; prompt: string; target: string }): TokenizedEdit {
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
  if (promptIds.length === 0) throw new InputError(`edit "${edit.id}": the prompt encodes to no tokens`);
  if (targetIds.length === 0) throw new InputError(`edit "${edit.id}": the target encodes to no tokens`);
  if (promptIds.length + targetIds.length > config.contextLength) {
    throw new InputError(`edit "${edit.id}": prompt and target take ${promptIds.length + targetIds.length} tokens, the model's context is ${config.contextLength}`);
  }
  return { ...edit, promptIds, targetIds };
}

/**
 * Tokenizes every edit, collecting what is wrong with each (named by id)
 * instead of stopping at the first, so a caller can report them all.
 */
export function tokenizeEdits(tokenizer: TextTokenizer, config: ModelConfig, edits: ReadonlyArray<{ id: string; label: string; prompt: string; target: string }>): { tokenized: TokenizedEdit[]; problems: Array<{ id: string; message: string }> } {
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
export function expandRequests(requests: readonly EditRequest[], firstIndex = 0): Array<{ id: string; label: string; prompt: string; target: string }> {
  const edits: Array<{ id: string; label: string; prompt: string; target: string }> = [];
  requests.forEach((request, i) => {
    const id = request.id ?? `edit-${firstIndex + i + 1}`;
    const label = request.label ?? id;
    edits.push({ id, label, prompt: request.prompt, target: request.target });
    (request.rephrases ?? []).forEach((prompt, n) => edits.push({ id: `${id}#${n + 1}`, label, prompt, target: request.target }));
  });
  return edits;
}
