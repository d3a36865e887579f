/**
 * Edits written into a model's base weights, and the way back. Methods that
 * change base weights (FT-L here; locate-then-edit methods such as ROME and
 * MEMIT) write through this ledger: the first write to a weight keeps its
 * original values, so that the base model can be restored bit for bit, which
 * adding and subtracting the same ΔW in floating point would not do. The
 * benchmark restores it between methods, which share one loaded model.
 */
import type { DecoderLM } from '../../models/decoder.js';
import type { Tensor } from '../../tensor/tensor.js';
import { NonFiniteError, ShapeError } from '../../util/errors.js';

export class BaseWeightEdits {
  private readonly originals = new Map<string, Float32Array>();
  /** While {@link atomically} runs: each weight's values before its first write in it. */
  private pending: Map<string, Float32Array> | null = null;

  constructor(private readonly model: DecoderLM) {}

  /**
   * Adds `delta`, laid out [in, out], to the weight of linear `linear`
   * (GPT-2's Conv1D weights are stored [in, out], LLaMA's [out, in]).
   */
  addToLinear(linear: string, delta: Tensor): void {
    const name = `${linear}.weight`;
    const weight = this.model.parameters.get(name);
    if (weight === undefined) throw new ShapeError(`no base weight ${name} to edit`);
    const [rows, cols] = weight.shape;
    const transposed = this.model.modules.weights === 'out_in';
    const [inDim, outDim] = transposed ? [cols, rows] : [rows, cols];
    if (delta.shape.length !== 2 || delta.shape[0] !== inDim || delta.shape[1] !== outDim) {
      throw new ShapeError(`a weight edit of ${name} must be [${inDim}, ${outDim}] (in, out), got [${delta.shape.join(', ')}]`);
    }
    if (!delta.data.every(Number.isFinite)) throw new NonFiniteError(`a weight edit of ${name} holds a non-finite value; nothing was written`);
    if (!this.originals.has(name)) this.originals.set(name, weight.data.slice());
    if (this.pending !== null && !this.pending.has(name)) this.pending.set(name, weight.data.slice());
    const w = weight.data;
    const d = delta.data;
    if (!transposed) {
      for (let i = 0; i < w.length; i++) w[i] += d[i];
      return;
    }
    for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) w[o * inDim + i] += d[i * outDim + o];
  }

  /**
   * Runs `write`, which may add to any number of weights: if it throws, each
   * weight it wrote is put back as it was before, so a failed batch (a
   * singular solve, a non-finite loss) leaves no half-written edit behind.
   */
  atomically<T>(write: () => T): T {
    if (this.pending !== null) return write();
    const pending = new Map<string, Float32Array>();
    this.pending = pending;
    try {
      return write();
    } catch (error) {
      for (const [name, before] of pending) this.model.parameters.get(name)!.data.set(before);
      throw error;
    } finally {
      this.pending = null;
    }
  }

  /** Names of the base weights written so far. */
  get written(): string[] {
    return [...this.originals.keys()];
  }

  /** Puts every written weight back to its original values, bit for bit, and forgets the edits. */
  restore(): void {
    for (const [name, original] of this.originals) this.model.parameters.get(name)!.data.set(original);
    this.originals.clear();
  }
}
