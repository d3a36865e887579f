/**
 * A durable ELDER editing session in a folder:
 *
 *   config.json                  ELDER configuration and the base-model fingerprint
 *   adapters-NNNNNN.safetensors  router and expert weights, one file per committed generation
 *   journal.jsonl                append-only record of applied batches and retractions
 *
 * Committing a batch writes the new weights as the next generation (temporary
 * file, fsync, rename), then appends a journal line naming that file and its
 * sha256, fsync'ed: only then is the edit acknowledged. The codebook is the
 * codes of the journal's applied, unretracted edits. A crash at any moment
 * leaves either the previous committed state or the new one; uncommitted
 * weight files are removed on the next open.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DecoderLM } from '../../models/decoder.js';
import { encodeSafetensors, SafetensorsFile } from '../../models/safetensors.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import type { TokenizedEdit } from '../edit.js';
import type { Allocation } from './allocation.js';
import { codeFromHex, codeToHex } from './codebook.js';
import { type ElderConfig, legacySubjectGate, presetElderConfig, validateElderConfig } from './config.js';
import { type BatchResult, ElderEditor, type IterationReport } from './editor.js';
import { StateError } from './errors.js';
import { type CheckableEdit, checkEdits, recheckSample } from './holds.js';
import { appendJournal, digest, type HoldsCheck, type JournalEditEntry, type JournalRecord, readJournal } from './journal.js';
import { MixtureOfLora } from './mixture.js';

const CONFIG_FILE = 'config.json';
const JOURNAL_FILE = 'journal.jsonl';
const LOCK_FILE = 'state.lock';
const FORMAT = 'elder-state';

/** What a state must match in its base model: names, shapes and a hash of the weights ELDER reads. */
export interface BaseFingerprint {
  name: string;
  architecture: string;
  layers: number;
  width: number;
  vocabSize: number;
  siteShape: number[];
  /** sha256 over the edited-site weights of the query block and every edited block. */
  weightsSha256: string;
}

interface StateConfigFile {
  format: typeof FORMAT;
  /** 2: the journal exists from creation on, so a missing journal is damage, not an empty history. */
  version: 1 | 2;
  createdAt: string;
  elder: ElderConfig;
  base: BaseFingerprint;
  initialWeights: string;
  initialWeightsSha256: string;
}

export interface EditRecord extends JournalEditEntry {
  status: 'applied' | 'retracted';
  generation: number;
  appliedAt: string;
  retractedAt?: string;
  /** Whether the edit held at its latest check (absent: never checked). */
  holds?: boolean;
  /** The greedy answer that check read (absent before answers were read). */
  answer?: string;
  /** When that check ran, and on which weights generation. */
  checkedAt?: string;
  checkedGeneration?: number;
}

export type BatchRecord = Extract<JournalRecord, { type: 'batch' }>;

/** A batch trained outside the state (see {@link ElderState.commitTrained}). */
export interface TrainedBatch extends BatchResult {
  /** The generation whose weights training started from. */
  fromGeneration: number;
  /** Every mixture tensor after training, by stored name. */
  weights: ReadonlyMap<string, { data: Float32Array; shape: readonly number[] }>;
  /** Allocations drawn for the batch's labels. */
  allocations: ReadonlyMap<string, Allocation>;
}

export function baseFingerprint(model: DecoderLM, config: ElderConfig, name: string): BaseFingerprint {
  const hash = crypto.createHash('sha256');
  let siteShape: number[] = [];
  for (let layer = config.firstBlock - 1; layer <= config.lastBlock; layer++) {
    const weight = model.parameters.get(`${model.linearName(layer, config.site)}.weight`);
    if (weight === undefined) throw new StateError(`the base model has no linear "${config.site}" in block ${layer}`);
    siteShape = [...weight.shape];
    hash.update(new Uint8Array(weight.data.buffer, weight.data.byteOffset, weight.data.byteLength));
  }
  const { architecture, layers, width, vocabSize } = model.config;
  return { name, architecture, layers, width, vocabSize, siteShape, weightsSha256: hash.digest('hex') };
}

function weightsFileName(generation: number): string {
  return `adapters-${String(generation).padStart(6, '0')}.safetensors`;
}

function sha256Chunks(chunks: readonly Uint8Array[]): string {
  const hash = crypto.createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/** The files of a state, read without the model (for `elder state` and `elder retract`). */
export class StateFiles {
  readonly edits = new Map<string, EditRecord>();
  /** The weights file of the last committed generation and its checksum. */
  weights: { file: string; sha256: string; generation: number };

  private constructor(
    readonly dir: string,
    readonly config: StateConfigFile,
    readonly records: JournalRecord[],
  ) {
    this.weights = { file: config.initialWeights, sha256: config.initialWeightsSha256, generation: 0 };
    for (const record of records) this.replay(record);
  }

  static exists(dir: string): boolean {
    return fs.existsSync(path.join(dir, CONFIG_FILE));
  }

  /** Reads config and journal; `repair` truncates a torn journal tail and removes uncommitted weight files. */
  static read(dir: string, repair = false): StateFiles {
    const configPath = path.join(dir, CONFIG_FILE);
    if (!fs.existsSync(configPath)) throw new StateError(`${dir}: not an ELDER state folder (no ${CONFIG_FILE})`);
    let sealed: StateConfigFile & { sha256?: string };
    try {
      sealed = JSON.parse(fs.readFileSync(configPath, 'utf8')) as StateConfigFile & { sha256?: string };
    } catch (error) {
      throw new StateError(`${configPath}: not valid JSON (${(error as Error).message})`);
    }
    const { sha256, ...config } = sealed ?? ({} as typeof sealed);
    if (config === null || typeof config !== 'object' || config.format !== FORMAT || (config.version !== 1 && config.version !== 2)) {
      throw new StateError(`${configPath}: not an elder state (format ${String(config?.format)} version ${String(config?.version)})`);
    }
    // Version 2 seals its settings: a changed rank or top-k would reinterpret the stored weights without a word.
    if (config.version === 2 && sha256 !== digest(JSON.stringify(config)))
      throw new StateError(`${configPath}: checksum mismatch (the file was modified or damaged)`);
    config.elder = withBlockNames(config.elder);
    const journalPath = path.join(dir, JOURNAL_FILE);
    if (config.version === 2 && !fs.existsSync(journalPath))
      throw new StateError(`${journalPath} is missing: the state's history of edits is gone (restore it from a backup)`);
    const files = new StateFiles(dir, config, readJournal(journalPath, repair));
    if (repair) files.removeUncommittedWeights();
    return files;
  }

  static create(dir: string, config: StateConfigFile): void {
    writeFileAtomic(path.join(dir, CONFIG_FILE), [Buffer.from(`${JSON.stringify({ ...config, sha256: digest(JSON.stringify(config)) }, null, 2)}\n`)]);
  }

  private replay(record: JournalRecord): void {
    if (record.type === 'batch') {
      for (const edit of record.edits) {
        if (this.edits.has(edit.id)) throw new StateError(`${this.dir}: journal applies edit "${edit.id}" twice`);
        this.edits.set(edit.id, { ...edit, status: 'applied', generation: record.generation, appliedAt: record.at });
      }
      this.weights = { file: record.weights, sha256: record.weightsSha256, generation: record.generation };
    } else if (record.type === 'check') {
      for (const result of record.results) {
        const edit = this.edits.get(result.id);
        if (edit === undefined) throw new StateError(`${this.dir}: journal checks unknown edit "${result.id}"`);
        Object.assign(edit, { holds: result.holds, answer: result.answer, checkedAt: record.at, checkedGeneration: record.generation });
      }
    } else {
      const edit = this.edits.get(record.id);
      if (edit === undefined) throw new StateError(`${this.dir}: journal retracts unknown edit "${record.id}"`);
      edit.status = 'retracted';
      edit.retractedAt = record.at;
    }
  }

  private removeUncommittedWeights(): void {
    for (const name of fs.readdirSync(this.dir)) {
      const match = /^adapters-(\d{6})\.safetensors$/.exec(name);
      if ((match && Number(match[1]) > this.weights.generation) || (name.startsWith('.') && name.endsWith('.tmp'))) {
        fs.rmSync(path.join(this.dir, name), { force: true });
      }
    }
  }

  get nextSeq(): number {
    return this.records.length + 1;
  }

  /** Appends a record durably and applies it to this view. */
  append(record: Parameters<typeof appendJournal>[2]): JournalRecord {
    const sealed = appendJournal(path.join(this.dir, JOURNAL_FILE), this.nextSeq, record);
    this.records.push(sealed);
    this.replay(sealed);
    return sealed;
  }

  /** Marks an edit retracted in the journal. */
  retract(id: string): JournalRecord {
    const edit = this.edits.get(id);
    if (edit === undefined) throw new StateError(`no edit "${id}" in ${this.dir}`);
    if (edit.status === 'retracted') throw new StateError(`edit "${id}" is already retracted`);
    return this.append({ type: 'retract', id });
  }

  /** Reads and verifies the committed weights. */
  readWeights(): Map<string, { data: Float32Array; shape: readonly number[] }> {
    const file = path.join(this.dir, this.weights.file);
    if (!fs.existsSync(file)) throw new StateError(`${file}: committed weights are missing`);
    const sha = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (sha !== this.weights.sha256) throw new StateError(`${file}: checksum mismatch (the file was modified or damaged)`);
    const opened = SafetensorsFile.open(file);
    try {
      return new Map([...opened.entries.keys()].map((name) => [name, opened.read(name)]));
    } finally {
      opened.close();
    }
  }
}

/** A cross-process lock so two writers never interleave; a lock left by a killed process is taken over. */
function acquireLock(dir: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(file, 'utf8'));
      if (holder !== process.pid && isAlive(holder)) throw new StateError(`${dir} is in use by process ${holder}`);
      fs.rmSync(file, { force: true });
    }
  }
  throw new StateError(`${dir}: cannot take the state lock`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface OpenOptions {
  /** Name recorded for the base model (default: the folder's base name). */
  modelName: string;
  /** For a new state: configuration overrides. For an existing one, the fields that must not change are checked. */
  overrides?: Partial<ElderConfig>;
  /** Read without locking, repairing or creating (for answering questions beside a writer). */
  readOnly?: boolean;
}

/** Fields fixed when a state is created (they shape the weights and the codes). */
/**
 * States written before block indices were called blocks name them
 * firstLayer, lastLayer, subjectLayer and gateLayer; read under today's names
 * (the sealed file itself is never rewritten).
 */
function withBlockNames(elder: ElderConfig): ElderConfig {
  const renamed: Record<string, unknown> = { ...elder };
  for (const [before, now] of [
    ['firstLayer', 'firstBlock'],
    ['lastLayer', 'lastBlock'],
    ['subjectLayer', 'subjectBlock'],
    ['gateLayer', 'gateBlock'],
  ] as const) {
    if (before in renamed && !(now in renamed)) renamed[now] = renamed[before];
    delete renamed[before];
  }
  return renamed as unknown as ElderConfig;
}

const FIXED_FIELDS = ['preset', 'subjectBlock', 'site', 'firstBlock', 'lastBlock', 'experts', 'rank', 'alpha', 'topK', 'epsilon', 'seed'] as const;

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
      // States written before the routing-loss ablations existed used the guided loss.
      const config: ElderConfig = { ...files.config.elder };
      config.routingLoss ??= 'guided';
      config.trainRouting ??= 'router';
      config.replay ??= 0;
      config.freshCodes ??= false;
      config.matchedExperts ??= false;
      // States written before endings were trained fitted the target alone.
      config.trainEnding ??= false;
      // States written before presets existed started from elder's defaults of the day.
      config.preset ??= 'elder';
      config.gate ??= 'code';
      // States written before the gate's metric existed measured Euclidean distance at the router's query.
      Object.assign(config, { ...legacySubjectGate(config.firstBlock), ...config });
      validateElderConfig(config, model.config);
      for (const field of FIXED_FIELDS) {
        const wanted = options.overrides?.[field];
        if (wanted !== undefined && wanted !== config[field]) {
          throw new StateError(`${dir} was created with ${field} = ${String(config[field])}; it cannot change to ${String(wanted)}`);
        }
      }
      const expected = files.config.base;
      const actual = baseFingerprint(model, config, expected.name);
      for (const key of ['architecture', 'layers', 'width', 'vocabSize'] as const) {
        if (expected[key] !== actual[key])
          throw new StateError(`${dir} was made for another base model (${key}: ${expected[key]} in the state, ${actual[key]} in this model)`);
      }
      if (expected.siteShape.join('x') !== actual.siteShape.join('x'))
        throw new StateError(`${dir} was made for another base model (edited layer shape [${expected.siteShape}] vs [${actual.siteShape}])`);
      if (expected.weightsSha256 !== actual.weightsSha256)
        throw new StateError(`${dir} was made for base model "${expected.name}"; this model's weights differ (fingerprint mismatch)`);

      // Training flags may change per run; they are not part of the state's identity.
      for (const field of [
        'lr',
        'iterations',
        'batchSize',
        'lambda',
        'earlyStop',
        'replay',
        'trainRouting',
        'freshCodes',
        'trainEnding',
        'gate',
        'subjectRadius',
        'queryRadius',
        'queryMetric',
        'gateBlock',
        'matchedExperts',
      ] as const) {
        const value = options.overrides?.[field];
        if (value !== undefined) (config as unknown as Record<string, unknown>)[field] = value;
      }
      const mixture = new MixtureOfLora(config, model);
      mixture.loadValues(files.readWeights(), path.join(dir, files.weights.file));
      const editor = new ElderEditor(model, config, mixture);
      for (const edit of files.edits.values()) {
        editor.allocations.restore(edit.label, edit.allocation);
        const code = codeFromHex(edit.code, editor.codebook.words);
        if (edit.status === 'applied') editor.codebook.add(edit.id, code);
        else editor.retracted.add(edit.id, code);
      }
      // Live edits are remembered for replay (their frozen forward pass is recomputed from the base model).
      const replayable = [...files.edits.values()].filter((e) => e.status === 'applied' && e.promptIds !== undefined && e.targetIds !== undefined);
      editor.remember(
        replayable.map((e) => ({
          id: e.id,
          label: e.label,
          promptIds: e.promptIds!,
          targetIds: e.targetIds!,
          endingIds: e.endingIds,
          subjectEnd: e.subjectEnd,
        })),
      );
      if (editor.config.freshCodes) editor.refreshCodes();
      return new ElderState(dir, files, editor, release, readOnly);
    } catch (error) {
      release();
      throw error;
    }
  }

  private static initialise(dir: string, model: DecoderLM, options: OpenOptions): void {
    const config = presetElderConfig(options.overrides?.preset ?? 'elder', model.config, options.overrides);
    const mixture = new MixtureOfLora(config, model);
    const chunks = encodeSafetensors(mixture.namedParameters(), { metadata: { generation: '0' } });
    const initialWeights = weightsFileName(0);
    writeFileAtomic(path.join(dir, initialWeights), chunks);
    writeFileAtomic(path.join(dir, JOURNAL_FILE), [Buffer.alloc(0)]);
    // config.json last: its presence is what makes the folder a state.
    StateFiles.create(dir, {
      format: FORMAT,
      version: 2,
      createdAt: new Date().toISOString(),
      elder: config,
      base: baseFingerprint(model, config, options.modelName),
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
    return this.commit(edits, () => this.editor.trainBatch(edits, onIteration));
  }

  /**
   * Commits a batch trained elsewhere (the service trains in a worker thread on
   * a copy of this state's weights): `trained.weights` replace the mixture's
   * values and are written as the next generation. `trained.fromGeneration`
   * must be the generation committed now, so a batch trained on stale weights
   * can never overwrite newer ones.
   */
  commitTrained(edits: readonly TokenizedEdit[], trained: TrainedBatch): BatchRecord {
    this.checkNewEdits(edits);
    if (trained.fromGeneration !== this.files.weights.generation) {
      throw new StateError(`batch was trained from generation ${trained.fromGeneration}, but ${this.dir} is at generation ${this.files.weights.generation}`);
    }
    if (trained.codes.length !== edits.length) throw new StateError(`trained batch has ${trained.codes.length} codes for ${edits.length} edits`);
    return this.commit(edits, () => {
      this.editor.mixture.loadValues(trained.weights, 'trained batch');
      for (const [label, allocation] of trained.allocations) this.editor.allocations.restore(label, allocation);
      return trained;
    });
  }

  /** The committed mixture weights and generation, for training a copy elsewhere. */
  snapshot(): { generation: number; weights: Map<string, { data: Float32Array; shape: number[] }> } {
    const weights = new Map([...this.editor.mixture.namedParameters()].map(([name, t]) => [name, { data: t.data.slice(), shape: [...t.shape] }]));
    return { generation: this.files.weights.generation, weights };
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
      const chunks = encodeSafetensors(this.editor.mixture.namedParameters(), { metadata: { generation: String(generation) } });
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
          allocation: this.editor.allocations.get(edit.label)!,
          promptIds: [...edit.promptIds],
          targetIds: [...edit.targetIds],
          ...(edit.endingIds === undefined ? {} : { endingIds: [...edit.endingIds] }),
          ...(edit.subjectEnd === undefined ? {} : { subjectEnd: edit.subjectEnd }),
        })),
      }) as BatchRecord;
      edits.forEach((edit, b) => {
        this.editor.codebook.add(edit.id, result.codes[b].code);
      });
      this.editor.remember(edits);
      // Fresh codes are a function of the durable weights and the journaled prompts, so they are recomputed, not journaled.
      if (this.editor.config.freshCodes) this.editor.refreshCodes();
      this.pruneOldWeights();
      return record;
    } catch (error) {
      this.editor.mixture.loadValues(this.files.readWeights(), this.files.weights.file);
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
    const code = this.editor.codebook.get(id);
    this.editor.codebook.remove(id);
    this.editor.forget(id);
    if (code !== null) this.editor.retracted.add(id, code);
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

/** Retracts an edit without loading the model (`elder retract`): a journal record under the state lock. */
export function retractEdit(dir: string, id: string): void {
  const release = acquireLock(dir);
  try {
    StateFiles.read(dir, true).retract(id);
  } finally {
    release();
  }
}
