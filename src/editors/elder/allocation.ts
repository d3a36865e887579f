/**
 * Pre-assigned allocations: each edit label gets k experts in every edited
 * layer, drawn at random, and different from every other label's allocation
 * while unused combinations remain (C(N,k)^L of them: 46,656 for the defaults).
 */
import { Random } from '../../util/random.js';
import { codeToHex, encodeCode } from './codebook.js';

export type Allocation = number[][]; // per edited layer, k expert indices (ascending)

export class AllocationTable {
  private readonly byLabel = new Map<string, Allocation>();
  private readonly usedCodes = new Set<string>();

  constructor(
    readonly layers: number,
    readonly experts: number,
    readonly k: number,
    readonly seed: number,
  ) {}

  /** Number of distinct allocations possible. */
  get capacity(): number {
    return binomial(this.experts, this.k) ** this.layers;
  }

  get(label: string): Allocation | undefined {
    return this.byLabel.get(label);
  }

  /** Every label's allocation, in the order they were assigned or restored. */
  entries(): Array<[string, Allocation]> {
    return [...this.byLabel];
  }

  /** Records an allocation read back from the journal. */
  restore(label: string, allocation: Allocation): void {
    this.byLabel.set(label, allocation);
    this.usedCodes.add(codeToHex(encodeCode(allocation, this.experts)));
  }

  /** The label's allocation, drawing a fresh one for a new label. */
  assign(label: string): Allocation {
    const existing = this.byLabel.get(label);
    if (existing) return existing;
    // Seeded by (seed, label) so a replayed journal draws the same allocations.
    const rng = new Random(this.seed ^ hashString(label));
    let allocation = this.draw(rng);
    for (let attempt = 0; attempt < 1000 && this.usedCodes.size < this.capacity; attempt++) {
      if (!this.usedCodes.has(codeToHex(encodeCode(allocation, this.experts)))) break;
      allocation = this.draw(rng);
    }
    this.restore(label, allocation);
    return allocation;
  }

  private draw(rng: Random): Allocation {
    return Array.from({ length: this.layers }, () =>
      rng
        .shuffle(Array.from({ length: this.experts }, (_, i) => i))
        .slice(0, this.k)
        .sort((a, b) => a - b),
    );
  }
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return Math.round(result);
}

/** FNV-1a, enough to spread labels over seeds. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
