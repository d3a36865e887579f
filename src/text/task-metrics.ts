/**
 * The general tasks' metrics, as Gu et al. (2024) and the benchmarks they
 * draw on score them, on text alone:
 * - normalised exact match (SQuAD's normalisation: lower case, no
 *   punctuation, no articles, single spaces), against any of the answers;
 * - the final number of a generation (GSM8K), compared as a number;
 * - the mean of ROUGE-1, ROUGE-2 and ROUGE-L F1 (SAMSum), through js-rouge,
 *   case-insensitive;
 * - entity-level F1 (CoNLL-03): an entity counts when its type and its
 *   normalised text both match one not matched before.
 */
import { l as rougeL, n as rougeN } from 'js-rouge';

/** SQuAD's answer normalisation: lower case, punctuation and the articles a, an, the removed, whitespace collapsed. */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/)
    .filter((w) => w !== '')
    .join(' ');
}

/** Whether `prediction` equals one of `answers` after {@link normalizeAnswer}. */
export function exactMatch(prediction: string, answers: readonly string[]): boolean {
  const said = normalizeAnswer(prediction);
  return answers.some((answer) => normalizeAnswer(answer) === said);
}

/** The last number written in `text` (digits with optional thousands commas, sign and decimals), or null when it holds none. */
export function finalNumber(text: string): number | null {
  const numbers = text.match(/-?\d[\d,]*(?:\.\d+)?/g);
  if (numbers === null) return null;
  const value = Number(numbers[numbers.length - 1].replace(/,/g, ''));
  return Number.isFinite(value) ? value : null;
}

/** Whether the last number of `prediction` equals `answer`'s (GSM8K's reference ends "#### 42"; only its number counts). */
export function finalNumberMatches(prediction: string, answer: string): boolean {
  const said = finalNumber(prediction);
  const wanted = finalNumber(answer);
  return said !== null && wanted !== null && Math.abs(said - wanted) < 1e-9;
}

/** ROUGE-1, ROUGE-2 and ROUGE-L F1 of a candidate against a reference (0 where either has no words). */
export function rougeScores(candidate: string, reference: string): { rouge1: number; rouge2: number; rougeL: number } {
  if (!/\w/.test(candidate) || !/\w/.test(reference)) return { rouge1: 0, rouge2: 0, rougeL: 0 };
  const words = (text: string) => text.split(/\s+/).filter((w) => w !== '').length;
  const bigrams = words(candidate) >= 2 && words(reference) >= 2;
  return {
    rouge1: rougeN(candidate, reference, { n: 1, caseSensitive: false }),
    rouge2: bigrams ? rougeN(candidate, reference, { n: 2, caseSensitive: false }) : 0,
    rougeL: rougeL(candidate, reference, { caseSensitive: false }),
  };
}

/** The summary score Gu et al. report for SAMSum: the mean of ROUGE-1, ROUGE-2 and ROUGE-L F1. */
export function meanRouge(candidate: string, reference: string): number {
  const { rouge1, rouge2, rougeL } = rougeScores(candidate, reference);
  return (rouge1 + rouge2 + rougeL) / 3;
}

export interface Entity {
  /** PER, LOC, ORG or MISC in CoNLL-03. */
  type: string;
  text: string;
}

/**
 * Entity-level F1 of predicted entities against gold ones: each prediction
 * matches at most one gold entity of the same type and normalised text.
 * Both empty: 1 (nothing to find, nothing claimed).
 */
export function entityF1(predicted: readonly Entity[], gold: readonly Entity[]): number {
  if (predicted.length === 0 && gold.length === 0) return 1;
  const hits = entityMatches(predicted, gold);
  return hits === 0 ? 0 : (2 * hits) / (predicted.length + gold.length);
}

/** How many predictions match a gold entity of the same type and normalised text, each gold entity at most once. */
export function entityMatches(predicted: readonly Entity[], gold: readonly Entity[]): number {
  const key = (e: Entity) => `${e.type}\u0000${normalizeAnswer(e.text)}`;
  const left = new Map<string, number>();
  for (const e of gold) left.set(key(e), (left.get(key(e)) ?? 0) + 1);
  let hits = 0;
  for (const e of predicted) {
    const count = left.get(key(e)) ?? 0;
    if (count > 0) {
      hits++;
      left.set(key(e), count - 1);
    }
  }
  return hits;
}

/**
 * The entities a generation lists for one type, as Gu et al. prompt for
 * them ("Please identify Person Entity from the given text. Text: … Entity:"):
 * the text up to the first line break, split at commas, semicolons and " and ".
 */
export function listedEntities(generation: string, type: string): Entity[] {
  const line = generation.split('\n')[0];
  return line
    .split(/,|;|\band\b/)
    .map((part) => part.trim().replace(/[.]+$/, ''))
    .filter((part) => /\w/.test(part))
    .map((text) => ({ type, text }));
}
