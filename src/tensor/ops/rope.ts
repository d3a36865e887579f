/**
 * Rotary position embeddings in Hugging Face's rotate-half layout: within each
 * head, element i pairs with element i + d/2 and both turn by position·θ_i,
 * θ_i = base^(-2i/d), over the head's first d (rotary) dimensions, d the
 * whole head unless the family rotates only part of it. The backward turns
 * the gradient back by the same angle.
 */

import { ShapeError } from '../../util/errors.js';
import { recordGrad, Tensor } from '../tensor.js';

/**
 * A rescaling of RoPE's frequencies for contexts longer than training's:
 * `linear` divides every frequency by `factor`; `llama3` (Llama 3.1 and
 * later) divides the low frequencies by `factor`, keeps the high ones and
 * blends between, by wavelength against the original context.
 */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalContext: number };

/** RoPE's inverse frequency for pair i of `headDim`, as Hugging Face computes it in float32. */
export function inverseFrequency(i: number, headDim: number, base: number, scaling: RopeScaling | null): number {
  const plain = Math.fround(1 / Math.fround(base ** Math.fround((2 * i) / headDim)));
  if (scaling === null) return plain;
  if (scaling.type === 'linear') return Math.fround(plain / scaling.factor);
  const { factor, lowFreqFactor, highFreqFactor, originalContext } = scaling;
  const wavelength = Math.fround((2 * Math.PI) / plain);
  if (wavelength < originalContext / highFreqFactor) return plain;
  if (wavelength > originalContext / lowFreqFactor) return Math.fround(plain / factor);
  const smooth = Math.fround((originalContext / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor));
  return Math.fround((1 - smooth) * Math.fround(plain / factor) + smooth * plain);
}

/** cos/sin per (position, frequency), computed once per (headDim, base, length). */
export class RopeTable {
  readonly cos: Float32Array;
  readonly sin: Float32Array;
  /** Pairs rotated per head: half of the rotary dimensions. */
  readonly half: number;

  /**
   * `rotaryDim` (default the whole head) is how many of each head's leading
   * dimensions rotate; the rest pass through (Phi-3's partial rotary).
   */
  constructor(
    readonly headDim: number,
    readonly base: number,
    readonly maxPositions: number,
    readonly scaling: RopeScaling | null = null,
    readonly rotaryDim = headDim,
  ) {
    if (rotaryDim % 2 !== 0 || rotaryDim > headDim || rotaryDim <= 0)
      throw new ShapeError(`rope: ${rotaryDim} rotary dimensions do not fit a head of ${headDim} (even, at most the head)`);
    this.half = rotaryDim / 2;
    this.cos = new Float32Array(maxPositions * this.half);
    this.sin = new Float32Array(maxPositions * this.half);
    for (let i = 0; i < this.half; i++) {
      const invFreq = inverseFrequency(i, rotaryDim, base, scaling);
      for (let p = 0; p < maxPositions; p++) {
        const angle = Math.fround(p * invFreq);
        this.cos[p * this.half + i] = Math.cos(angle);
        this.sin[p * this.half + i] = Math.sin(angle);
      }
    }
  }
}

function rotate(src: Float32Array, dst: Float32Array, table: RopeTable, batch: number, steps: number, heads: number, start: number, direction: 1 | -1): void {
  const { half, headDim } = table;
  const width = heads * headDim;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < steps; t++) {
      const trig = (start + t) * half;
      const row = (b * steps + t) * width;
      for (let h = 0; h < heads; h++) {
        const o = row + h * headDim;
        for (let i = 0; i < half; i++) {
          const c = table.cos[trig + i];
          const s = direction * table.sin[trig + i];
          const x1 = src[o + i];
          const x2 = src[o + i + half];
          dst[o + i] = x1 * c - x2 * s;
          dst[o + i + half] = x2 * c + x1 * s;
        }
        for (let i = 2 * half; i < headDim; i++) dst[o + i] = src[o + i];
      }
    }
  }
}

/** Rotates x [B, T, heads·headDim] for positions start … start+T-1. */
export function rope(x: Tensor, table: RopeTable, heads: number, start = 0): Tensor {
  const [batch, steps, width] = x.shape;
  if (x.rank !== 3 || width !== heads * table.headDim) {
    throw new ShapeError(`rope: expected [B, T, ${heads * table.headDim}], got [${x.shape.join(', ')}]`);
  }
  if (start + steps > table.maxPositions) {
    throw new ShapeError(`rope: position ${start + steps - 1} beyond the table of ${table.maxPositions}`);
  }
  const out = Tensor.zeros(x.shape);
  rotate(x.data, out.data, table, batch, steps, heads, start, 1);
  recordGrad(out, [x], (dy) => {
    const dx = new Float32Array(x.size);
    rotate(dy, dx, table, batch, steps, heads, start, -1);
    const grad = x.gradBuffer();
    for (let i = 0; i < grad.length; i++) grad[i] += dx[i];
  });
  return out;
}
