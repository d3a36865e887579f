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

  /** Every label's allocation, in the order they were recorded. */
  entries(): Array<[string, Allocation]> {
    return [...this.byLabel];
  }

  /** Stores a label's allocation: one a committed batch drew, or one read back from the journal. */
  record(label: string, allocation: Allocation): void {
    this.byLabel.set(label, allocation);
    this.usedCodes.add(allocationKey(allocation, this.experts));
  }

  /**
   * Each label's allocation: the stored one, or one drawn for it now and not
   * stored ({@link record} stores it once its batch commits). New labels are
   * drawn in order, each different from the stored allocations and from
   * those drawn before it here, so a batch draws what it would draw one
   * label at a time.
   */
  draft(labels: readonly string[]): Map<string, Allocation> {
    const drafted = new Map<string, Allocation>();
    const pending = new Set<string>();
    for (const label of labels) {
      if (drafted.has(label)) continue;
      const stored = this.byLabel.get(label);
      if (stored !== undefined) {
        drafted.set(label, stored);
        continue;
      }
      const allocation = this.drawFor(label, (key) => this.usedCodes.has(key) || pending.has(key), this.usedCodes.size + pending.size);
      pending.add(allocationKey(allocation, this.experts));
      drafted.set(label, allocation);
    }
    return drafted;
  }

  /** A fresh allocation for `label`, avoiding used ones while unused combinations remain. Seeded by (seed, label), so a replayed journal draws the same. */
  private drawFor(label: string, used: (key: string) => boolean, usedCount: number): Allocation {
    const rng = new Random(this.seed ^ hashString(label));
    let allocation = this.draw(rng);
    for (let attempt = 0; attempt < 1000 && usedCount < this.capacity; attempt++) {
      if (!used(allocationKey(allocation, this.experts))) break;
      allocation = this.draw(rng);
    }
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

function allocationKey(allocation: Allocation, experts: number): string {
  return codeToHex(encodeCode(allocation, experts));
}

/** A batch's allocations as the routing loss reads them: per edited block, the k experts of each sequence in turn (Int32Array [B·k]). */
export function presetsOf(allocations: readonly Allocation[], blocks: number, k: number): Int32Array[] {
  return Array.from({ length: blocks }, (_, i) => {
    const preset = new Int32Array(allocations.length * k);
    allocations.forEach((allocation, b) => {
      preset.set(allocation[i], b * k);
    });
    return preset;
  });
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
