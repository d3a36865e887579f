/**
 * An ELDER state: the durable folder `elder edit --state` names, its files
 * (files.ts) bound to an editor over the base model. Opening rebuilds the editor from
 * one {@link ElderSnapshot} of the files; committing a batch makes its
 * weights and journal line durable before the editor admits its edits.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DecoderLM } from '../../../models/decoder.js';
import { encodeSafetensors } from '../../../models/safetensors.js';
import { writeFileAtomic } from '../../../util/atomic-file.js';
import type { TokenizedEdit } from '../../edit.js';
import { codeFromHex, codeToHex, codeWords } from '../codebook.js';
import { type ElderConfig, type ElderSettings, elderConfig, fixedSettings, reconfigure, settingsOf } from '../config.js';
import { ElderEditor } from '../editor.js';
import { MixtureOfLora } from '../mixture.js';
import type { ElderSnapshot } from '../snapshot.js';
import type { BatchResult, IterationReport } from '../training.js';
import { StateError } from './errors.js';
import {
  acquireLock,
  type BatchRecord,
  baseFingerprint,
  CONFIG_FILE,
  type EditRecord,
  JOURNAL_FILE,
  StateFiles,
  sha256Chunks,
  type TrainedBatch,
  weightsFileName,
} from './files.js';
import { type CheckableEdit, checkEdits, recheckSample } from './holds.js';
import type { HoldsCheck } from './journal.js';

export { type BatchRecord, baseFingerprint, type EditRecord, retractEdit, StateFiles, type TrainedBatch } from './files.js';

export interface OpenOptions {
  /** Name recorded for the base model (default: the folder's base name). */
  modelName: string;
  /** For a new state: its settings. For an existing one: fixed settings must match; per-run ones apply to this run. */
  overrides?: ElderSettings;
  /** Read without locking, repairing or creating (for answering questions beside a writer). */
  readOnly?: boolean;
}

/** An open, writable ELDER state bound to its base model. */
export class ElderState {
  private constructor(
    readonly dir: string,
    readonly files: StateFiles,
    readonly editor: ElderEditor,
    private readonly releaseLock: () => void,
    readonly readOnly: boolean,
  ) {}

  /** Opens the state in `dir`, creating it (with `options.overrides`) on first use. */
  static open(dir: string, model: DecoderLM, options: OpenOptions): ElderState {
    const readOnly = options.readOnly === true;
    if (readOnly && !StateFiles.exists(dir)) throw new StateError(`${dir}: not an ELDER state folder (no ${CONFIG_FILE}); create one with elder edit`);
    if (!readOnly) fs.mkdirSync(dir, { recursive: true });
    const release = readOnly ? () => {} : acquireLock(dir);
    try {
      if (!StateFiles.exists(dir)) {
        // Without config.json a folder is a state being created, unless it already holds a journal: then config.json was lost.
        if (fs.existsSync(path.join(dir, JOURNAL_FILE)))
          throw new StateError(`${path.join(dir, CONFIG_FILE)} is missing, but the folder holds a state's journal: refusing to start a new state over it`);
        ElderState.initialise(dir, model, options);
      }
      const files = StateFiles.read(dir, !readOnly);
      const config = ElderState.configFor(files, model, options.overrides ?? {});
      const editor = ElderEditor.restore(model, config, ElderState.snapshotOf(files, config), { refresh: true });
      return new ElderState(dir, files, editor, release, readOnly);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** The stored configuration with this run's settings; a fixed setting that differs, or another base model, is refused. */
  private static configFor(files: StateFiles, model: DecoderLM, overrides: ElderSettings): ElderConfig {
    const current = settingsOf(files.elder);
    const stored = elderConfig(model.config, current);
    for (const name of fixedSettings(stored)) {
      const wanted = overrides[name];
      if (wanted !== undefined && wanted !== current[name])
        throw new StateError(`${files.dir} was created with ${name} = ${String(current[name])}; it cannot change to ${String(wanted)}`);
    }
    const expected = files.config.base;
    const actual = baseFingerprint(model, stored.core, expected.name);
    for (const key of ['architecture', 'layers', 'width', 'vocabSize'] as const) {
      if (expected[key] !== actual[key])
        throw new StateError(`${files.dir} was made for another base model (${key}: ${expected[key]} in the state, ${actual[key]} in this model)`);
    }
    if (expected.siteShape.join('x') !== actual.siteShape.join('x'))
      throw new StateError(`${files.dir} was made for another base model (edited layer shape [${expected.siteShape}] vs [${actual.siteShape}])`);
    if (expected.weightsSha256 !== actual.weightsSha256)
      throw new StateError(`${files.dir} was made for base model "${expected.name}"; this model's weights differ (fingerprint mismatch)`);
    return reconfigure(stored, model.config, overrides);
  }

  /** The editor's state as the files hold it: committed weights, the journal's codes and allocations, the live edits to remember. */
  private static snapshotOf(files: StateFiles, config: ElderConfig): ElderSnapshot {
    const words = codeWords(config.core.lastBlock - config.core.firstBlock + 1, config.core.experts);
    const edits = [...files.edits.values()];
    const live = edits.filter((e) => e.status === 'applied');
    return {
      weights: files.readWeights(),
      codes: live.map((e) => [e.id, codeFromHex(e.code, words)] as const),
      retracted: edits.filter((e) => e.status === 'retracted').map((e) => [e.id, codeFromHex(e.code, words)] as const),
      allocations: edits.map((e) => [e.label, e.allocation] as const),
      // Edits journaled before token ids were cannot be replayed or gated.
      memory: live
        .filter((e) => e.promptIds !== undefined && e.targetIds !== undefined)
        .map((e) => ({
          id: e.id,
          label: e.label,
          promptIds: e.promptIds!,
          targetIds: e.targetIds!,
          endingIds: e.endingIds,
          subjectEnd: e.subjectEnd,
          subjectStart: e.subjectStart,
          subjectIds: e.subjectIds,
        })),
    };
  }

  private static initialise(dir: string, model: DecoderLM, options: OpenOptions): void {
    const config = elderConfig(model.config, options.overrides);
    const mixture = new MixtureOfLora(config.core, model);
    const chunks = encodeSafetensors(mixture.namedParameters(), { metadata: { generation: '0' } });
    const initialWeights = weightsFileName(0);
    writeFileAtomic(path.join(dir, initialWeights), chunks);
    writeFileAtomic(path.join(dir, JOURNAL_FILE), [Buffer.alloc(0)]);
    // config.json last: its presence is what makes the folder a state.
    StateFiles.create(dir, {
      createdAt: new Date().toISOString(),
      elder: config,
      base: baseFingerprint(model, config.core, options.modelName),
      initialWeights,
      initialWeightsSha256: sha256Chunks(chunks),
    });
  }

  get config(): ElderConfig {
    return this.editor.config;
  }

  /**
   * Trains one batch and commits it: new weights durable first, then the journal
   * line. Returns the journal record; only after it returns are the edits acknowledged.
   * On failure the in-memory weights go back to the last committed generation.
   */
  applyBatch(edits: readonly TokenizedEdit[], onIteration?: (report: IterationReport) => void): BatchRecord {
    this.checkNewEdits(edits);
    return this.commit(edits, () => this.editor.train(edits, onIteration));
  }

  /**
   * Commits a batch trained elsewhere (the service trains in a worker thread on
   * a snapshot of this state): `trained.weights` replace the mixture's values
   * and are written as the next generation. `trained.fromGeneration` must be
   * the generation committed now, so a batch trained on stale weights can
   * never overwrite newer ones.
   */
  commitTrained(edits: readonly TokenizedEdit[], trained: TrainedBatch): BatchRecord {
    this.checkNewEdits(edits);
    if (trained.fromGeneration !== this.files.weights.generation) {
      throw new StateError(`batch was trained from generation ${trained.fromGeneration}, but ${this.dir} is at generation ${this.files.weights.generation}`);
    }
    if (trained.codes.length !== edits.length) throw new StateError(`trained batch has ${trained.codes.length} codes for ${edits.length} edits`);
    return this.commit(edits, () => {
      this.editor.loadWeights(trained.weights, 'trained batch');
      return trained;
    });
  }

  /**
   * The committed state for training a batch elsewhere, and its generation.
   * The remembered edits go along only when training replays them.
   */
  trainingSnapshot(): { generation: number; snapshot: ElderSnapshot } {
    const snapshot = this.editor.snapshot();
    const replays = this.config.rehearsal.replay > 0;
    return { generation: this.files.weights.generation, snapshot: replays ? snapshot : { ...snapshot, memory: [] } };
  }

  private checkNewEdits(edits: readonly TokenizedEdit[]): void {
    if (this.readOnly) throw new StateError(`${this.dir} is open read-only`);
    for (const edit of edits) {
      if (this.files.edits.has(edit.id)) throw new StateError(`edit id "${edit.id}" already exists in ${this.dir}`);
    }
  }

  private commit(edits: readonly TokenizedEdit[], train: () => BatchResult): BatchRecord {
    try {
      const result = train();
      const generation = this.files.weights.generation + 1;
      const chunks = encodeSafetensors(this.editor.weightViews(), { metadata: { generation: String(generation) } });
      const weights = weightsFileName(generation);
      writeFileAtomic(path.join(this.dir, weights), chunks);
      const record = this.files.append({
        type: 'batch',
        generation,
        weights,
        weightsSha256: sha256Chunks(chunks),
        iterations: result.iterations,
        loss: result.loss,
        edits: edits.map((edit, b) => ({
          id: edit.id,
          label: edit.label,
          prompt: edit.prompt,
          target: edit.target,
          experts: result.codes[b].experts,
          code: codeToHex(result.codes[b].code),
          allocation: result.allocations.get(edit.label)!,
          promptIds: [...edit.promptIds],
          targetIds: [...edit.targetIds],
          ...(edit.endingIds === undefined ? {} : { endingIds: [...edit.endingIds] }),
          ...(edit.subjectEnd === undefined ? {} : { subjectEnd: edit.subjectEnd }),
          ...(edit.subjectStart === undefined ? {} : { subjectStart: edit.subjectStart }),
          ...(edit.subjectIds === undefined ? {} : { subjectIds: [...edit.subjectIds] }),
        })),
      }) as BatchRecord;
      // Fresh codes are a function of the durable weights and the journaled prompts, so they are recomputed, not journaled.
      this.editor.commit(edits, result);
      this.pruneOldWeights();
      return record;
    } catch (error) {
      this.editor.loadWeights(this.files.readWeights(), this.files.weights.file);
      throw error;
    }
  }

  /**
   * Checks whether the edits of the batch just committed hold, and re-checks a
   * sample of earlier live edits (later batches can undo earlier ones), on the
   * committed weights; the results are journaled. `tokenize` turns a stored
   * edit back into ids when the journal lacks them (states written before
   * token ids were journaled).
   */
  verifyBatch(
    batch: readonly CheckableEdit[],
    tokenize: (edit: EditRecord) => CheckableEdit,
    decode: (ids: readonly number[]) => string,
  ): { batch: HoldsCheck[]; earlier: HoldsCheck[] } {
    const inBatch = new Set(batch.map((e) => e.id));
    const earlier = recheckSample(
      [...this.files.edits.values()].filter((e) => e.status === 'applied' && !inBatch.has(e.id)),
      this.files.weights.generation,
    ).map((e) =>
      e.promptIds !== undefined && e.targetIds !== undefined ? { id: e.id, promptIds: e.promptIds, targetIds: e.targetIds, target: e.target } : tokenize(e),
    );
    const results = checkEdits(this.editor, [...batch, ...earlier], decode);
    if (results.length > 0) this.files.append({ type: 'check', generation: this.files.weights.generation, results });
    return { batch: results.slice(0, batch.length), earlier: results.slice(batch.length) };
  }

  /** Retracts an edit: its code leaves the codebook, so its inputs defer to the base model again. */
  retract(id: string): void {
    if (this.readOnly) throw new StateError(`${this.dir} is open read-only`);
    this.files.retract(id);
    this.editor.retract(id);
  }

  /** Keeps the initial and the current generation; older ones are no longer referenced for loading. */
  private pruneOldWeights(): void {
    const keep = new Set([this.files.config.initialWeights, this.files.weights.file]);
    for (const name of fs.readdirSync(this.dir)) {
      if (/^adapters-\d{6}\.safetensors$/.test(name) && !keep.has(name)) fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }

  close(): void {
    this.releaseLock();
  }
}
