/**
 * Allocation codes and their store. A code is the L×N bit vector of the
 * experts chosen in each edited layer (bit layer·N + expert), packed into
 * 32-bit words; distance is Hamming distance, counted with popcount. The
 * store is one flat Uint32Array, so a nearest-code scan is a tight loop
 * (about a millisecond for 100k one-word codes).
 */

/** Experts chosen per edited layer → packed code words. */
export function encodeCode(selection: readonly (readonly number[])[], experts: number): Uint32Array {
  const words = new Uint32Array(codeWords(selection.length, experts));
  selection.forEach((chosen, layer) => {
    for (const expert of chosen) {
      const bit = layer * experts + expert;
      words[bit >>> 5] |= 1 << (bit & 31);
    }
  });
  return words;
}

/** Packed code words → experts chosen per edited layer (ascending). */
export function decodeCode(code: Uint32Array, layers: number, experts: number): number[][] {
  return Array.from({ length: layers }, (_, layer) =>
    Array.from({ length: experts }, (_, expert) => expert).filter((expert) => {
      const bit = layer * experts + expert;
      return (code[bit >>> 5] & (1 << (bit & 31))) !== 0;
    }),
  );
}

export function codeWords(layers: number, experts: number): number {
  return Math.ceil((layers * experts) / 32);
}

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

export function hamming(a: Uint32Array, b: Uint32Array): number {
  let distance = 0;
  for (let w = 0; w < a.length; w++) distance += popcount32(a[w] ^ b[w]);
  return distance;
}

export function codeToHex(code: Uint32Array): string {
  return Array.from(code, (w) => w.toString(16).padStart(8, '0')).join('');
}

export function codeFromHex(hex: string, words: number): Uint32Array {
  if (!new RegExp(`^[0-9a-f]{${words * 8}}$`).test(hex)) throw new Error(`invalid code "${hex}" (expected ${words * 8} hex digits)`);
  return Uint32Array.from({ length: words }, (_, w) => parseInt(hex.slice(w * 8, w * 8 + 8), 16));
}

export interface NearestCode {
  /** Smallest Hamming distance, or Infinity for an empty codebook. */
  distance: number;
  /** Id of the edit owning the nearest code, or null. */
  id: string | null;
}

/** Codes of the live edits, keyed by edit id; removal keeps the store dense. */
export class Codebook {
  private codes: Uint32Array;
  private ids: string[] = [];
  private readonly slot = new Map<string, number>();

  constructor(
    readonly words: number,
    initialCapacity = 64,
  ) {
    this.codes = new Uint32Array(words * initialCapacity);
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    return this.slot.has(id);
  }

  add(id: string, code: Uint32Array): void {
    if (code.length !== this.words) throw new Error(`code has ${code.length} words, codebook holds ${this.words}`);
    if (this.slot.has(id)) throw new Error(`codebook already holds edit "${id}"`);
    const index = this.ids.length;
    if ((index + 1) * this.words > this.codes.length) {
      const grown = new Uint32Array(this.codes.length * 2);
      grown.set(this.codes);
      this.codes = grown;
    }
    this.codes.set(code, index * this.words);
    this.ids.push(id);
    this.slot.set(id, index);
  }

  /** Replaces the code of an edit the codebook holds. */
  set(id: string, code: Uint32Array): void {
    const index = this.slot.get(id);
    if (index === undefined) throw new Error(`codebook holds no edit "${id}"`);
    if (code.length !== this.words) throw new Error(`code has ${code.length} words, codebook holds ${this.words}`);
    this.codes.set(code, index * this.words);
  }

  /** Removes an edit's code (the last code moves into its slot). */
  remove(id: string): boolean {
    const index = this.slot.get(id);
    if (index === undefined) return false;
    const last = this.ids.length - 1;
    if (index !== last) {
      this.codes.copyWithin(index * this.words, last * this.words, (last + 1) * this.words);
      this.ids[index] = this.ids[last];
      this.slot.set(this.ids[index], index);
    }
    this.ids.pop();
    this.slot.delete(id);
    return true;
  }

  /** Every (id, code), in storage order (adding them in this order rebuilds the same codebook). */
  entries(): Array<[string, Uint32Array]> {
    return this.ids.map((id, index) => [id, this.codes.slice(index * this.words, (index + 1) * this.words)]);
  }

  get(id: string): Uint32Array | null {
    const index = this.slot.get(id);
    return index === undefined ? null : this.codes.slice(index * this.words, (index + 1) * this.words);
  }

  nearest(code: Uint32Array): NearestCode {
    const { codes, words } = this;
    let best = Infinity;
    let bestIndex = -1;
    const count = this.ids.length;
    if (words === 1) {
      const c = code[0];
      for (let i = 0; i < count; i++) {
        const d = popcount32(codes[i] ^ c);
        if (d < best) {
          best = d;
          bestIndex = i;
          if (d === 0) break;
        }
      }
    } else {
      for (let i = 0; i < count; i++) {
        let d = 0;
        for (let w = 0; w < words; w++) d += popcount32(codes[i * words + w] ^ code[w]);
        if (d < best) {
          best = d;
          bestIndex = i;
          if (d === 0) break;
        }
      }
    }
    return { distance: best, id: bestIndex < 0 ? null : this.ids[bestIndex] };
  }
}
