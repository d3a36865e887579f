/**
 * Reading what a model says, as text: word tokens as ROME's fluency counts
 * them, n-gram entropy and fluency, repeated fragments, and whether a greedy
 * answer reads as an edit's target. Pure functions of strings, so the
 * benchmark, the state's holds check and the service read answers alike.
 */

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
