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

import { answersWith, fluency, repeatsFragment } from '../text/answers.js';
import { mean, rate } from './metrics.js';

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
