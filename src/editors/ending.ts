/**
 * How an edited answer ends. Teacher forcing on the target alone says nothing
 * about the tokens after it, and an editor whose weights stay switched on for
 * every generated token then keeps producing the new object (`Lyon Lyon
 * Lyonon`). An edit's *ending* is what the base model itself says after its
 * own answer to the edit's prompt: for a model that ends its answers, the
 * closing punctuation and the end-of-text token (` Paris.<eos>` → `.<eos>`);
 * for one that goes on, the punctuation its answer is followed by (` Paris,
 * the …` → `,`). Editors that train on it learn to close the new answer the
 * way the model closes its own.
 */

import type { DecoderLM } from '../models/decoder.js';
import { generate } from '../models/generate.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import type { TokenizedEdit } from './edit.js';

/** Tokens of the base model's own answer read before its ending is taken (answers of facts are short). */
const ANSWER_LOOKAHEAD = 12;

/** At most this many ending tokens are trained. */
const MAX_ENDING = 4;

/** A token's text carries a word (letters or digits): part of an answer rather than of its ending. */
const WORDLIKE = /[\p{L}\p{N}]/u;

/** Punctuation that closes a phrase: an answer that goes on starts its ending there. */
const CLOSING = /^[.,;:!?)\]\n]/;

/**
 * The base model's ending after its own greedy answer to `promptIds`, to be
 * trained after `target` (token ids; empty when the base model neither ends
 * nor closes its answer with punctuation within {@link ANSWER_LOOKAHEAD}
 * tokens). Punctuation the target already ends with is not repeated.
 */
export function answerEnding(model: DecoderLM, tokenizer: TextTokenizer, promptIds: readonly number[], target: string, room: number): number[] {
  const lookahead = Math.min(ANSWER_LOOKAHEAD, model.config.contextLength - promptIds.length);
  if (lookahead <= 0 || room <= 0) return [];
  const said = generate(model, promptIds, { maxTokens: lookahead }).ids;
  const texts = said.map((id) => tokenizer.decode([id]));
  const eos = model.config.eosTokenIds;
  // The ending is said[from, to): after the answer's last word-bearing token up to the end-of-text token,
  // or, for an answer that goes on, the first closing punctuation after its first token.
  let from: number;
  let to: number;
  if (said.length > 0 && eos.includes(said[said.length - 1])) {
    from = said.length - 1;
    while (from > 0 && !WORDLIKE.test(texts[from - 1])) from--;
    to = said.length;
  } else {
    from = texts.findIndex((text, i) => i > 0 && CLOSING.test(text));
    to = from < 0 ? 0 : from + 1;
    if (from < 0) from = 0;
  }
  // A target written with its own closing punctuation keeps it once.
  const closing = /[^\p{L}\p{N}\s]+$/u.exec(target)?.[0] ?? '';
  while (from < to && closing !== '' && !eos.includes(said[from]) && texts[from].trim() !== '' && closing.includes(texts[from].trim())) from++;
  return said.slice(from, Math.min(to, from + MAX_ENDING, from + room));
}

/** `edits` with each one's {@link answerEnding} (computed once per distinct prompt, on the base model: call it before any edit is applied). */
export function withAnswerEndings<E extends TokenizedEdit>(model: DecoderLM, tokenizer: TextTokenizer, edits: readonly E[]): E[] {
  const byPrompt = new Map<string, number[]>();
  return edits.map((edit) => {
    const key = `${edit.promptIds.join(',')}|${edit.target}`;
    let ending = byPrompt.get(key);
    if (ending === undefined) {
      ending = answerEnding(model, tokenizer, edit.promptIds, edit.target, model.config.contextLength - edit.promptIds.length - edit.targetIds.length);
      byPrompt.set(key, ending);
    }
    return { ...edit, endingIds: ending };
  });
}

/** What an editor that trains endings fits: the target, then its ending. */
export function targetWithEnding(edit: Pick<TokenizedEdit, 'targetIds' | 'endingIds'>): number[] {
  return edit.endingIds === undefined || edit.endingIds.length === 0 ? edit.targetIds : [...edit.targetIds, ...edit.endingIds];
}
