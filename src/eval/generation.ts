/**
 * What an edited model generates, measured as COUNTERFACT's users measure it
 * (ROME, MEMIT, AlphaEdit; EasyEdit reports the same), beside the
 * teacher-forced scores:
 * - *answer*: a greedy answer that starts with the whole target and then
 *   stops, or goes on without saying the target again and without repeating
 *   a fragment;
 * - *fluency*: ROME's n-gram entropy of a generation, the weighted mean of its
 *   2- and 3-gram entropies (weights 2/3 and 4/3, bits), over word tokens;
 * - *repetition*: a generation that repeats a fragment three times in a row
 *   (`Lyon Lyon Lyon`, `Lyonononon`, `-aka-aka-aka`).
 */

import { mean, rate } from './metrics.js';

/** Word tokens as NLTK's `word_tokenize` splits English for ROME's entropy: runs of letters/digits (with inner apostrophes), and each other non-space character. */
export function wordTokens(text: string): string[] {
  return text.match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)*|[^\s\p{L}\p{N}]/gu) ?? [];
}

/** Entropy (bits) of the frequency distribution of a text's word n-grams; 0 for a text with none. */
export function nGramEntropy(tokens: readonly string[], n: number): number {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const gram = tokens.slice(i, i + n).join('\u0000');
    counts.set(gram, (counts.get(gram) ?? 0) + 1);
  }
  const total = tokens.length - n + 1;
  if (total <= 0) return 0;
  let entropy = 0;
  for (const count of counts.values()) {
    const p = count / total;
    entropy -= p * Math.log2(p);
  }
  return entropy;
}

/** ROME's fluency of one generation: mean of (2/3)·H₂ and (4/3)·H₃ over its word tokens. */
export function fluency(text: string): number {
  const tokens = wordTokens(text);
  return ((2 / 3) * nGramEntropy(tokens, 2) + (4 / 3) * nGramEntropy(tokens, 3)) / 2;
}

/** Whether a text repeats some fragment three times in a row: a run of 1–4 word tokens, or 2+ characters holding a letter. */
export function repeatsFragment(text: string): boolean {
  const tokens = wordTokens(text);
  for (let size = 1; size <= 4; size++) {
    for (let i = 0; i + 3 * size <= tokens.length; i++) {
      let same = true;
      for (let j = 0; j < size && same; j++) same = tokens[i + j] === tokens[i + size + j] && tokens[i + j] === tokens[i + 2 * size + j];
      if (same && tokens.slice(i, i + size).some((t) => /[\p{L}\p{N}]/u.test(t))) return true;
    }
  }
  return characterRepeat(text);
}

/** A fragment of 2+ characters holding a letter, three times in a row (digits alone repeat in numbers). */
function characterRepeat(text: string): boolean {
  for (let size = 2; size <= 12; size++) {
    for (let i = 0; i + 3 * size <= text.length; i++) {
      const fragment = text.slice(i, i + size);
      if (!/\p{L}/u.test(fragment)) continue;
      if (text.startsWith(fragment, i + size) && text.startsWith(fragment, i + 2 * size)) return true;
    }
  }
  return false;
}

/**
 * Whether a greedy answer reads as the target: it starts with the whole
 * target (ignoring leading whitespace), and what follows neither says the
 * target again (nor its last word, when that has three letters or more)
 * nor repeats a fragment.
 */
export function answersWith(answer: string, target: string): boolean {
  const said = answer.trimStart();
  const wanted = target.trim();
  if (wanted === '' || !said.startsWith(wanted)) return false;
  const rest = said.slice(wanted.length);
  if (rest.includes(wanted)) return false;
  const lastWord = wordTokens(wanted)
    .filter((t) => /\p{L}/u.test(t))
    .pop();
  if (lastWord !== undefined && lastWord.length >= 3 && wordTokens(rest).includes(lastWord)) return false;
  return !repeatsFragment(said);
}

/** A prompt whose greedy answer should read as `target`. */
export interface AnswerItem {
  promptIds: number[];
  target: string;
}

/** Greedy generations measured: answers of edited prompts and rephrasings, fluency on those and on prompts about the edited subjects. */
export interface GenerationScores {
  /** Share of edited prompts whose greedy answer reads as the target ({@link answersWith}). */
  answerRate: number;
  /** The same over held-out rephrasings. */
  heldOutAnswerRate: number;
  /** Mean {@link fluency} of the edited prompts' generations. */
  fluency: number;
  /** Mean {@link fluency} of generations on prompts about the edited subjects. */
  subjectFluency: number;
  /** Share of all those generations that repeat a fragment ({@link repeatsFragment}). */
  repetition: number;
}

/** Where the generations come from and how long they are. */
export interface GenerationProbe {
  edited: readonly AnswerItem[];
  heldOut: readonly AnswerItem[];
  /** Prompts about the edited subjects (COUNTERFACT's generation prompts, or made from the subject). */
  subject: readonly number[][];
  /** New tokens per generation (stopping earlier at end of text). */
  tokens: number;
}

/** Greedy generations of `probe` under `generateText` (the edited model, or the base), measured. */
export function scoreGenerations(
  probe: GenerationProbe,
  generateText: (promptIds: readonly number[], tokens: number) => string,
  onProgress?: (done: number, total: number) => void,
): GenerationScores {
  const total = probe.edited.length + probe.heldOut.length + probe.subject.length;
  let done = 0;
  onProgress?.(0, total);
  const run = (ids: readonly number[]) => {
    const text = generateText(ids, probe.tokens);
    if (++done % 500 === 0 || done === total) onProgress?.(done, total);
    return text;
  };
  const edited = probe.edited.map((item) => run(item.promptIds));
  const heldOut = probe.heldOut.map((item) => run(item.promptIds));
  const subject = probe.subject.map(run);
  return {
    answerRate: rate(edited.map((text, i) => answersWith(text, probe.edited[i].target))),
    heldOutAnswerRate: rate(heldOut.map((text, i) => answersWith(text, probe.heldOut[i].target))),
    fluency: mean(edited.map(fluency)),
    subjectFluency: mean(subject.map(fluency)),
    repetition: rate([...edited, ...heldOut, ...subject].map(repeatsFragment)),
  };
}

/** Prompts about a subject for a record that lists none: plain cues any model continues with something about it. */
export function subjectPrompts(subject: string): string[] {
  return [`${subject} is`, `Tell me about ${subject}.`, `${subject},`];
}
