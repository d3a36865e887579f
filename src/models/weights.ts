/**
 * The tensors of a Hugging Face model folder: `model.safetensors`, or the
 * shards named by `model.safetensors.index.json`, each checked for shape and
 * for NaN/infinity. Where the native addon is in use, tensors are mapped as
 * stored: F32 ones are used in place, F16 and BF16 matrices stay half
 * precision (the kernels convert as they read), and only vectors (norms,
 * biases) are upcast. Otherwise each tensor is read once, upcast to float32.
 */
import fs from 'node:fs';
import path from 'node:path';
import { kernels } from '../tensor/backends/index.js';
import { Tensor } from '../tensor/tensor.js';
import { CheckpointError } from '../util/errors.js';
import { SafetensorsFile, type StoredDtype, type TensorEntry } from './safetensors.js';

/** Bytes a tensor takes in memory once loaded: as stored when mapped, else as float32. */
export function residentBytes(entry: Pick<TensorEntry, 'dtype' | 'shape'>, mapped: boolean): number {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  if (!mapped || entry.dtype === 'F64') return count * 4;
  if (entry.dtype === 'F32') return count * 4;
  return entry.shape.length === 2 ? count * 2 : count * 4;
}

export class WeightStore {
  private readonly files = new Map<string, SafetensorsFile>();
  /** Tensor name → file holding it. */
  private readonly location = new Map<string, string>();
  /** Stored dtypes seen while loading, for `elder info`. */
  readonly dtypes = new Set<StoredDtype>();

  private constructor(readonly dir: string) {}

  static open(dir: string): WeightStore {
    const store = new WeightStore(dir);
    const single = path.join(dir, 'model.safetensors');
    const index = path.join(dir, 'model.safetensors.index.json');
    if (fs.existsSync(single)) {
      store.addFile(single);
    } else if (fs.existsSync(index)) {
      let weightMap: Record<string, string>;
      try {
        weightMap = (JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
      } catch (error) {
        throw new CheckpointError(index, `not valid JSON (${(error as Error).message})`);
      }
      if (weightMap === null || typeof weightMap !== 'object') throw new CheckpointError(index, 'missing "weight_map"');
      for (const shard of new Set(Object.values(weightMap))) store.addFile(path.join(dir, shard));
      for (const [name, shard] of Object.entries(weightMap)) {
        const file = path.join(dir, shard);
        if (!store.files.get(file)!.entries.has(name)) throw new CheckpointError(file, `index names tensor "${name}" but the shard lacks it`);
      }
    } else {
      throw new CheckpointError(single, 'file not found (expected model.safetensors or model.safetensors.index.json)');
    }
    return store;
  }

  private addFile(file: string): void {
    const opened = SafetensorsFile.open(file);
    this.files.set(file, opened);
    for (const name of opened.entries.keys()) this.location.set(name, file);
  }

  /** First of `names` present in the checkpoint (checkpoints differ in prefixes such as `transformer.`). */
  resolve(names: readonly string[]): string | null {
    return names.find((name) => this.location.has(name)) ?? null;
  }

  has(name: string): boolean {
    return this.location.has(name);
  }

  names(): string[] {
    return [...this.location.keys()];
  }

  /** Every tensor's header entry, for estimates made before anything is mapped. */
  entries(): TensorEntry[] {
    return [...this.location].map(([name, file]) => this.files.get(file)!.entries.get(name)!);
  }

  /**
   * Loads a tensor, checking its shape and that every value is finite:
   * mapped as stored where it can be (F32 tensors, F16/BF16 matrices), else
   * read into float32.
   */
  take(names: string | readonly string[], shape: readonly number[]): Tensor {
    const candidates = typeof names === 'string' ? [names] : names;
    const name = this.resolve(candidates);
    if (name === null) {
      const where = this.files.size === 1 ? [...this.files.keys()][0] : this.dir;
      throw new CheckpointError(where, `missing tensor "${candidates[0]}"`);
    }
    const file = this.location.get(name)!;
    const opened = this.files.get(file)!;
    const entry = opened.entries.get(name)!;
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(file, `tensor "${name}" has shape [${entry.shape.join(', ')}], the config implies [${shape.join(', ')}]`);
    }
    this.dtypes.add(entry.dtype);
    const keepsHalf = entry.dtype !== 'F64' && (entry.dtype === 'F32' || shape.length === 2);
    const mapped = keepsHalf ? opened.map(name) : null;
    if (mapped !== null) {
      const kind = mapped.dtype === 'F32' ? 0 : mapped.dtype === 'F16' ? 1 : 2;
      const bad = kernels.firstNonFinite(mapped.values, kind);
      if (bad >= 0) throw new CheckpointError(file, `tensor "${name}" holds a non-finite value at element ${bad}`);
      const values = mapped.values;
      return values instanceof Float32Array ? new Tensor(values, shape) : new Tensor({ bits: values, dtype: mapped.dtype as 'F16' | 'BF16' }, shape);
    }
    if (entry.dtype === 'F64' && shape.length === 2 && !this.warnedF64) {
      this.warnedF64 = true;
      process.stderr.write(`elder: ${file} stores F64 weights; they are converted to F32 as they load\n`);
    }
    const { data } = opened.read(name);
    const bad = kernels.firstNonFinite(data, 0);
    if (bad >= 0) throw new CheckpointError(file, `tensor "${name}" holds a non-finite value (${data[bad]}) at element ${bad}`);
    return new Tensor(data, shape);
  }

  private warnedF64 = false;

  close(): void {
    for (const file of this.files.values()) file.close();
    this.files.clear();
  }
}
