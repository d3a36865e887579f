/**
 * The tensors of a Hugging Face model folder: `model.safetensors`, or the
 * shards named by `model.safetensors.index.json`. Each tensor is read once,
 * upcast to float32, checked for shape and for NaN/infinity.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { CheckpointError } from '../util/errors.js';
import { SafetensorsFile, type StoredDtype } from './safetensors.js';

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

  /** Loads a tensor, checking its shape and that every value is finite. */
  take(names: string | readonly string[], shape: readonly number[]): Tensor {
    const candidates = typeof names === 'string' ? [names] : names;
    const name = this.resolve(candidates);
    if (name === null) {
      const where = this.files.size === 1 ? [...this.files.keys()][0] : this.dir;
      throw new CheckpointError(where, `missing tensor "${candidates[0]}"`);
    }
    const file = this.location.get(name)!;
    const { data, shape: stored, dtype } = this.files.get(file)!.read(name);
    if (stored.length !== shape.length || stored.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(file, `tensor "${name}" has shape [${stored.join(', ')}], the config implies [${shape.join(', ')}]`);
    }
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) throw new CheckpointError(file, `tensor "${name}" holds a non-finite value (${data[i]}) at element ${i}`);
    }
    this.dtypes.add(dtype);
    return new Tensor(data, shape);
  }

  close(): void {
    for (const file of this.files.values()) file.close();
    this.files.clear();
  }
}
