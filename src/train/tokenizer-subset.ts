/**
 * A byte-level BPE tokenizer cut down to the tokens a corpus uses. A small
 * model trained on a small corpus spends most of its embedding and LM-head
 * FLOPs on GPT-2's 50,257 rows, most of which it never sees; the subset keeps
 * every token used at least `minCount` times, every token those are merged
 * from, and all 256 byte tokens, so any text still encodes (rare words fall
 * back to smaller pieces). Kept tokens keep GPT-2's order; ids are renumbered.
 *
 * Exactness: GPT-2 has one merge per non-byte token, so a token's merge tree
 * is unique. Keeping the merges whose parts and result are all kept means
 * every merge that fires on a word made only of kept tokens is still there,
 * and every dropped merge produced a token the subset never emits: words made
 * of kept tokens encode exactly as before.
 */

/** The parts of tokenizer.json this code reads and rewrites. */
export interface TokenizerJson {
  model: { type: string; vocab: Record<string, number>; merges: Array<[string, string] | string>; [key: string]: unknown };
  added_tokens: Array<{ id: number; content: string; [key: string]: unknown }>;
  [key: string]: unknown;
}

/** GPT-2's printable stand-ins for the 256 bytes (its `bytes_to_unicode`). */
export function byteAlphabet(): string[] {
  const printable = new Set<number>();
  for (const [from, to] of [
    [33, 126],
    [161, 172],
    [174, 255],
  ])
    for (let b = from; b <= to; b++) printable.add(b);
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(printable.has(b) ? b : 256 + extra++));
  return chars;
}

function mergePair(merge: [string, string] | string): [string, string] {
  if (Array.isArray(merge)) return merge;
  const space = merge.indexOf(' ');
  return [merge.slice(0, space), merge.slice(space + 1)];
}

export interface SubsetResult {
  tokenizer: TokenizerJson;
  /** Old id → new id (−1 for dropped tokens). */
  oldToNew: Int32Array;
  vocabSize: number;
}

/**
 * The subset of `full` that keeps tokens counted at least `minCount` times
 * in `counts` (indexed by the full tokenizer's ids), their merge ancestors,
 * the byte alphabet and the added (special) tokens.
 */
export function subsetTokenizer(full: TokenizerJson, counts: ArrayLike<number>, minCount: number): SubsetResult {
  if (full.model.type !== 'BPE') throw new Error(`only BPE tokenizers can be cut down, got ${full.model.type}`);
  const vocab = full.model.vocab;
  const byId: string[] = [];
  for (const [token, id] of Object.entries(vocab)) byId[id] = token;
  const parents = new Map<string, [string, string]>();
  for (const merge of full.model.merges) {
    const [a, b] = mergePair(merge);
    if (!parents.has(a + b)) parents.set(a + b, [a, b]);
  }
  const kept = new Set<string>();
  const keep = (token: string): void => {
    if (kept.has(token)) return;
    kept.add(token);
    const pair = parents.get(token);
    if (pair !== undefined) {
      keep(pair[0]);
      keep(pair[1]);
    }
  };
  for (const char of byteAlphabet()) {
    if (vocab[char] === undefined) throw new Error(`the tokenizer lacks the byte token ${JSON.stringify(char)}; it is not byte-level BPE`);
    keep(char);
  }
  for (const added of full.added_tokens) keep(added.content);
  for (let id = 0; id < byId.length; id++) if (byId[id] !== undefined && (counts[id] ?? 0) >= minCount) keep(byId[id]);

  const oldToNew = new Int32Array(byId.length).fill(-1);
  const newVocab: Record<string, number> = {};
  let next = 0;
  for (let id = 0; id < byId.length; id++) {
    if (byId[id] === undefined || !kept.has(byId[id])) continue;
    oldToNew[id] = next;
    newVocab[byId[id]] = next++;
  }
  const merges = full.model.merges.map(mergePair).filter(([a, b]) => kept.has(a) && kept.has(b) && kept.has(a + b));
  const tokenizer: TokenizerJson = {
    ...full,
    model: { ...full.model, vocab: newVocab, merges },
    added_tokens: full.added_tokens.map((token) => ({ ...token, id: newVocab[token.content] })),
  };
  return { tokenizer, oldToNew, vocabSize: next };
}

/** The slow-tokenizer files (`vocab.json`, `merges.txt`) of a BPE tokenizer.json, for tools that read those. */
export function slowTokenizerFiles(tokenizer: TokenizerJson): { vocabJson: string; mergesTxt: string } {
  const merges = tokenizer.model.merges.map(mergePair).map(([a, b]) => `${a} ${b}`);
  return { vocabJson: JSON.stringify(tokenizer.model.vocab), mergesTxt: `${['#version: 0.2', ...merges].join('\n')}\n` };
}
