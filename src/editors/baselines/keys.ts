/** Key stores for the key–value baselines (GRACE, MELO): Euclidean nearest neighbour over stored keys. */

export interface NearestKey {
  index: number;
  distance: number;
}

export class KeyStore {
  private readonly keys: Float32Array[] = [];

  constructor(readonly width: number) {}

  get size(): number {
    return this.keys.length;
  }

  add(key: Float32Array): number {
    this.keys.push(key.slice());
    return this.keys.length - 1;
  }

  /** Nearest stored key (index −1, distance ∞ when empty). */
  nearest(query: Float32Array): NearestKey {
    let best = { index: -1, distance: Infinity };
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys[i];
      let sum = 0;
      for (let c = 0; c < this.width; c++) {
        const d = key[c] - query[c];
        sum += d * d;
      }
      const distance = Math.sqrt(sum);
      if (distance < best.distance) best = { index: i, distance };
    }
    return best;
  }
}
