/**
 * A 2-D picture of ELDER's allocation codes (the paper's Figure 4): codes of
 * a few records' prompts (edited and held-out rephrasings, one colour per
 * record) and of unrelated prompts, embedded by UMAP (umap-js) under the
 * Hamming distance on the code bits. Rephrasings that share a code land together; unrelated
 * inputs should fall away from them.
 */
import { UMAP } from 'umap-js';
import type { TokenizedEdit } from '../editors/edit.js';
import type { CodeRouting } from '../editors/editor.js';
import { Random } from '../util/random.js';
import type { StreamRecord } from './protocol.js';

export interface CodePoint {
  /** Record id, or `unrelated`. */
  group: string;
  /** `edited`, `held-out` or `unrelated`. */
  kind: 'edited' | 'held-out' | 'unrelated';
  code: string;
  x: number;
  y: number;
}

export interface CodeEmbedding {
  method: 'umap';
  points: CodePoint[];
}

export function embedCodes(
  routing: CodeRouting,
  stream: readonly StreamRecord[],
  edits: readonly TokenizedEdit[],
  heldOut: readonly TokenizedEdit[],
  localityIds: readonly number[][],
  seed: number,
  { groups = 6, unrelated = 40 } = {},
): CodeEmbedding {
  const items: Array<{ group: string; kind: CodePoint['kind']; ids: number[] }> = [];
  for (const record of stream.slice(0, groups)) {
    for (const edit of edits) if (edit.label === record.id) items.push({ group: record.id, kind: 'edited', ids: edit.promptIds });
    for (const item of heldOut) if (item.label === record.id) items.push({ group: record.id, kind: 'held-out', ids: item.promptIds });
  }
  for (const ids of localityIds.slice(0, unrelated)) items.push({ group: 'unrelated', kind: 'unrelated', ids });
  const codes = routing.codesOf(items.map((item) => item.ids));
  const coordinates = umap2d(codes, seed);
  return {
    method: 'umap',
    points: items.map((item, i) => ({ group: item.group, kind: item.kind, code: routing.codeText(codes[i]), x: coordinates[i][0], y: coordinates[i][1] })),
  };
}

/** UMAP under the Hamming distance; too few points for a neighbourhood graph are laid on a line. */
function umap2d(codes: readonly Uint32Array[], seed: number): number[][] {
  if (codes.length < 4) return codes.map((_, i) => [i, 0]);
  const rng = new Random(seed);
  const bits = codes.map((code) => Array.from({ length: code.length * 32 }, (_, i) => (code[i >>> 5] >>> (i & 31)) & 1));
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.min(15, codes.length - 1),
    minDist: 0.3,
    random: () => rng.uniform(),
    distanceFn: (a, b) => {
      let differing = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differing++;
      return differing;
    },
  });
  return umap.fit(bits);
}
