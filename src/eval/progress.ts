/**
 * A benchmark run's progress: each finished method's results, kept in
 * `progress.json` in the output folder with a fingerprint of the data and
 * settings. A rerun with the same fingerprint resumes, skipping the methods
 * it finished; a run of other data or settings is refused. Runs of other
 * methods side by side (`--merge`) contribute their finished methods.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { MethodName, MethodSettings } from '../editors/registry.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { UsageError } from '../util/errors.js';
import type { DatasetFormat } from './datasets.js';
import type { MethodResult } from './results.js';

/** What makes two runs the same run: the data and every setting (not the methods, nor the output folder). */
export interface RunIdentity {
  modelDir: string;
  dataFile: string;
  format?: DatasetFormat;
  /** Number of records (each contributes its edit group). */
  edits: number;
  seed: number;
  /** Edits per batch of the stream (the paper: 4). */
  batchSize: number;
  /** Measure retention every this many applied edits. */
  evalEvery: number;
  settings: MethodSettings;
  localityFile?: string;
  /** Tokens of greedy continuation compared for locality. */
  localityTokens: number;
  /**
   * Gate radii to measure after the stream, on the same trained edits, for
   * methods whose gate radius can be moved (`Editor.gateRadius`): the
   * trade-off between rephrasings admitted and other inputs captured.
   */
  gateRadii?: number[];
  /** The general tasks' contents (tasks/base-cache.ts tasksHash), when the run measures any. */
  tasksHash?: string;
}

interface ProgressFile {
  fingerprint: string;
  finished: MethodResult[];
}

export class RunProgress {
  private constructor(
    private readonly file: string,
    private readonly stored: ProgressFile,
  ) {}

  /**
   * The progress in `outDir`: finished methods of an interrupted run with the
   * same identity, and those taken from the side-by-side runs in `mergeFrom`.
   */
  static open(run: RunIdentity & { outDir: string; methods: readonly MethodName[]; mergeFrom?: readonly string[] }, log: (line: string) => void): RunProgress {
    fs.mkdirSync(run.outDir, { recursive: true });
    const fingerprint = fingerprintOf(run);
    const file = path.join(run.outDir, 'progress.json');
    const progress = new RunProgress(file, readProgress(file, fingerprint));
    if (run.mergeFrom !== undefined && run.mergeFrom.length > 0) {
      for (const dir of run.mergeFrom) progress.merge(dir, fingerprint, run.methods, log);
      progress.write();
    }
    return progress;
  }

  /** The results of `method`, if this run finished it. */
  finished(method: MethodName): MethodResult | undefined {
    return this.stored.finished.find((r) => r.method === method);
  }

  /** Keeps a finished method's results, durably. */
  record(result: MethodResult): void {
    this.stored.finished.push(result);
    this.write();
  }

  /** Takes the finished methods of the run in `dir` that this run lists and has not finished. */
  private merge(dir: string, fingerprint: string, methods: readonly MethodName[], log: (line: string) => void): void {
    const file = path.join(dir, 'progress.json');
    if (!fs.existsSync(file))
      throw new UsageError(`--merge ${dir}: no progress.json there (not a bench-edit output folder, or its run finished no method yet)`);
    const other = readProgress(file, fingerprint, 'its methods cannot be merged into this run');
    for (const result of other.finished) {
      if (!methods.includes(result.method)) continue;
      if (this.finished(result.method) !== undefined) {
        log(`${result.method}: already finished here, the one in ${dir} is not taken`);
        continue;
      }
      this.stored.finished.push(result);
      log(`${result.method}: taken from ${dir}`);
    }
  }

  /** Atomically: a killed process leaves the previous file. */
  private write(): void {
    writeFileAtomic(this.file, [Buffer.from(`${JSON.stringify(this.stored)}\n`)]);
  }
}

function fingerprintOf(options: RunIdentity): string {
  const hash = createHash('sha256');
  hash.update(fs.readFileSync(options.dataFile));
  if (options.localityFile !== undefined) hash.update(fs.readFileSync(options.localityFile));
  hash.update(
    JSON.stringify([
      path.resolve(options.modelDir),
      options.format ?? null,
      options.edits,
      options.seed,
      options.batchSize,
      options.evalEvery,
      options.settings,
      options.localityTokens,
      // Only when given, so that runs saved before the sweep existed still resume.
      ...(options.gateRadii === undefined ? [] : [options.gateRadii]),
      ...(options.tasksHash === undefined ? [] : [options.tasksHash]),
    ]),
  );
  return hash.digest('hex');
}

/**
 * The progress kept in `file`, or none yet; a run of other data or settings is
 * refused, with `remedy` (by default: how to resume this folder elsewhere).
 */
function readProgress(file: string, fingerprint: string, remedy = `use another --out, or remove ${file} to start over`): ProgressFile {
  if (!fs.existsSync(file)) return { fingerprint, finished: [] };
  let stored: ProgressFile;
  try {
    stored = JSON.parse(fs.readFileSync(file, 'utf8')) as ProgressFile;
  } catch (error) {
    throw new UsageError(`${file}: unreadable progress (${(error as Error).message}); remove it to start over`);
  }
  if (stored.fingerprint !== fingerprint) throw new UsageError(`${path.dirname(file)} holds a run with other data or settings; ${remedy}`);
  return stored;
}
