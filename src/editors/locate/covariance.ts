/**
 * The key covariance C = E[k kᵀ] of a block's MLP output projection: the
 * second moment of the keys (that linear's inputs) over text the model was
 * trained on. Locate-then-edit methods weigh their updates by it, so that an
 * edit changes the projection least along the directions ordinary text uses
 * (ROME's C⁻¹, MEMIT's λC, AlphaEdit's null space).
 *
 * Measured once per model and block (`elder covariance`, or on first need by
 * `elder bench-edit`) and cached in a safetensors file whose name and
 * metadata carry the model's weight fingerprint: a cache made for other
 * weights is refused, never used.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { weightsFingerprint } from '../../models/fingerprint.js';
import { SafetensorsFile, writeSafetensors } from '../../models/safetensors.js';
import { kernels } from '../../tensor/backends/index.js';
import { noGrad } from '../../tensor/tensor.js';
import { elderCacheDir } from '../../util/cache-dir.js';
import { CheckpointError, ElderError, UsageError } from '../../util/errors.js';
import type { KeyCovariance } from '../common/resources.js';
import { checkBlock, mlpOutputSite } from '../common/sites.js';

/** A covariance measured on other weights than the model being edited. */
export class StaleCovarianceError extends ElderError {}

/**
 * Measures E[k kᵀ] at `blocks` over `windows` (token sequences of one
 * length, each at most the context), in one pass of the blocks up to the
 * highest one. `onProgress` is told how many windows are done.
 */
export function measureKeyCovariances(
  model: DecoderLM,
  windows: readonly (readonly number[])[],
  blocks: readonly number[],
  corpus: string,
  onProgress?: (done: number, total: number) => void,
  batchSize = 16,
): KeyCovariance[] {
  if (windows.length === 0) throw new UsageError('no text to measure key covariances on');
  const length = windows[0].length;
  if (windows.some((w) => w.length !== length)) throw new UsageError('key covariance windows must all have one length');
  model.checkLength(length);
  for (const block of blocks) checkBlock(model.config, block, 'covariance block');
  const site = mlpOutputSite(model.config);
  const width = model.config.ffnWidth;
  const sums = blocks.map(() => new Float64Array(width * width));
  const scratch = new Float32Array(width * width);
  const hooks = new Map<string, LinearHook>();
  blocks.forEach((block, i) => {
    hooks.set(model.linearName(block, site), (input, output) => {
      kernels.sgemm(true, false, width, width, input.rows, 1, input.data, 0, width, input.data, 0, width, 0, scratch, 0, width);
      const sum = sums[i];
      for (let j = 0; j < scratch.length; j++) sum[j] += scratch[j];
      return output;
    });
  });
  const top = Math.max(...blocks) + 1;
  noGrad(() => {
    for (let start = 0; start < windows.length; start += batchSize) {
      const batch = windows.slice(start, start + batchSize);
      const ids = Int32Array.from(batch.flat());
      model.runBlocks(model.embed(ids, batch.length, length, 0), 0, top, { hooks });
      onProgress?.(Math.min(start + batchSize, windows.length), windows.length);
    }
  });
  const tokens = windows.length * length;
  const fingerprint = weightsFingerprint(model);
  return blocks.map((block, i) => {
    const second = sums[i];
    for (let j = 0; j < second.length; j++) second[j] /= tokens;
    return { site, block, width, tokens, corpus, fingerprint, second };
  });
}

/** Where key covariances are cached: `$ELDER_CACHE_DIR`, else `$XDG_CACHE_HOME/elder`, else `~/.cache/elder`; then `covariance/`. */
export function defaultCovarianceDir(): string {
  return elderCacheDir('covariance');
}

/** Key covariances on disk, one file per model fingerprint, site and block. */
export class CovarianceCache {
  constructor(readonly dir: string = defaultCovarianceDir()) {}

  fileFor(fingerprint: string, site: string, block: number): string {
    return path.join(this.dir, `${fingerprint.slice(0, 16)}-${site}-block${block}.safetensors`);
  }

  /** The cached covariance for this model's block, or null when none is cached. */
  read(model: DecoderLM, block: number, fingerprint = weightsFingerprint(model)): KeyCovariance | null {
    const file = this.fileFor(fingerprint, mlpOutputSite(model.config), block);
    if (!fs.existsSync(file)) return null;
    return readCovarianceFile(file, fingerprint, mlpOutputSite(model.config), block);
  }

  write(covariance: KeyCovariance): string {
    const file = this.fileFor(covariance.fingerprint, covariance.site, covariance.block);
    fs.mkdirSync(this.dir, { recursive: true });
    writeSafetensors(
      file,
      { second: { data: Float32Array.from(covariance.second), shape: [covariance.width, covariance.width] } },
      {
        metadata: {
          format: 'elder-key-covariance',
          fingerprint: covariance.fingerprint,
          site: covariance.site,
          block: String(covariance.block),
          tokens: String(covariance.tokens),
          corpus: covariance.corpus,
        },
      },
    );
    return file;
  }
}

/**
 * Reads a covariance file and checks it against the model it is for: another
 * fingerprint is a {@link StaleCovarianceError}, another site or block, or a
 * malformed file, a CheckpointError.
 */
export function readCovarianceFile(file: string, fingerprint: string, site: string, block: number): KeyCovariance {
  const stored = SafetensorsFile.open(file);
  try {
    const meta = stored.metadata;
    if (meta.format !== 'elder-key-covariance') throw new CheckpointError(file, 'not an elder key covariance file');
    if (meta.fingerprint !== fingerprint) {
      throw new StaleCovarianceError(
        `${file}: key covariance measured on other weights (fingerprint ${String(meta.fingerprint).slice(0, 16)}, the model is ${fingerprint.slice(0, 16)}); measure it again with elder covariance`,
      );
    }
    if (meta.site !== site || Number(meta.block) !== block) {
      throw new CheckpointError(file, `holds block ${meta.block}'s ${meta.site} keys, not block ${block}'s ${site}`);
    }
    const { data, shape } = stored.read('second');
    const width = shape[0];
    if (shape.length !== 2 || shape[1] !== width) throw new CheckpointError(file, `covariance must be square, got [${shape.join(', ')}]`);
    const second = Float64Array.from(data);
    if (!second.every(Number.isFinite)) throw new CheckpointError(file, 'covariance holds a non-finite value');
    const tokens = Number(meta.tokens);
    return { site, block, width, tokens, corpus: meta.corpus ?? 'unknown', fingerprint, second };
  } finally {
    stored.close();
  }
}

/**
 * Key covariances for an editor: each block's from the cache, and the
 * missing ones measured in one pass over `text()` (with progress on
 * `log`) and cached. `text` is only called when something is missing.
 */
export function cachedCovariances(
  model: DecoderLM,
  cache: CovarianceCache,
  text: () => { windows: number[][]; description: string },
  log: (line: string) => void = () => {},
): (blocks: readonly number[]) => KeyCovariance[] {
  const fingerprint = weightsFingerprint(model);
  const known = new Map<number, KeyCovariance>();
  return (blocks) => {
    const missing: number[] = [];
    for (const block of blocks) {
      if (known.has(block)) continue;
      const cached = cache.read(model, block, fingerprint);
      if (cached === null) missing.push(block);
      else known.set(block, cached);
    }
    if (missing.length > 0) {
      const { windows, description } = text();
      log(`key covariance of block${missing.length > 1 ? 's' : ''} ${missing.join(', ')}: measuring over ${description}`);
      let last = 0;
      const measured = measureKeyCovariances(model, windows, missing, description, (done, total) => {
        if (done === total || done - last >= Math.ceil(total / 10)) {
          last = done;
          log(`key covariance: ${done}/${total} windows`);
        }
      });
      for (const covariance of measured) {
        if (covariance.fingerprint !== fingerprint) throw new StaleCovarianceError('the model changed while its key covariance was measured');
        known.set(covariance.block, covariance);
        log(`key covariance of block ${covariance.block} cached at ${cache.write(covariance)}`);
      }
    }
    return blocks.map((block) => known.get(block)!);
  };
}
