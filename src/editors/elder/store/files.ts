/**
 * The files of a durable ELDER state folder, read and written without the model:
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
import type { DecoderLM } from '../../../models/decoder.js';
import { hashTensorValues } from '../../../models/fingerprint.js';
import { SafetensorsFile } from '../../../models/safetensors.js';
import { writeFileAtomic } from '../../../util/atomic-file.js';
import type { ElderConfig } from '../config.js';
import type { CoreConfig } from '../core-config.js';
import type { StoredTensor } from '../snapshot.js';
import type { BatchResult } from '../training.js';
import { StateError } from './errors.js';
import { appendJournal, digest, type JournalEditEntry, type JournalRecord, readJournal } from './journal.js';
import { CONFIG_VERSION, migrateElderConfig } from './migrate.js';

export const CONFIG_FILE = 'config.json';
export const JOURNAL_FILE = 'journal.jsonl';
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

export interface StateConfigFile {
  format: typeof FORMAT;
  /** 2: the journal exists from creation on, so a missing journal is damage, not an empty history; 3: the configuration by component. */
  version: 1 | 2 | 3;
  createdAt: string;
  /** The ELDER configuration as this version stored it (read it through {@link StateFiles.elder}). */
  elder: unknown;
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
  weights: ReadonlyMap<string, StoredTensor>;
}

export function baseFingerprint(model: DecoderLM, config: Pick<CoreConfig, 'firstBlock' | 'lastBlock' | 'site'>, name: string): BaseFingerprint {
  const hash = crypto.createHash('sha256');
  let siteShape: number[] = [];
  for (let layer = config.firstBlock - 1; layer <= config.lastBlock; layer++) {
    const weight = model.parameters.get(`${model.linearName(layer, config.site)}.weight`);
    if (weight === undefined) throw new StateError(`the base model has no linear "${config.site}" in block ${layer}`);
    siteShape = [...weight.shape];
    hashTensorValues(hash, weight);
  }
  const { architecture, layers, width, vocabSize } = model.config;
  return { name, architecture, layers, width, vocabSize, siteShape, weightsSha256: hash.digest('hex') };
}

export function weightsFileName(generation: number): string {
  return `adapters-${String(generation).padStart(6, '0')}.safetensors`;
}

export function sha256Chunks(chunks: readonly Uint8Array[]): string {
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
    if (config === null || typeof config !== 'object' || config.format !== FORMAT || ![1, 2, 3].includes(config.version)) {
      throw new StateError(`${configPath}: not an elder state (format ${String(config?.format)} version ${String(config?.version)})`);
    }
    // Version 2 on seals its settings: a changed rank or top-k would reinterpret the stored weights without a word.
    if (config.version >= 2 && sha256 !== digest(JSON.stringify(config)))
      throw new StateError(`${configPath}: checksum mismatch (the file was modified or damaged)`);
    const journalPath = path.join(dir, JOURNAL_FILE);
    if (config.version >= 2 && !fs.existsSync(journalPath))
      throw new StateError(`${journalPath} is missing: the state's history of edits is gone (restore it from a backup)`);
    const files = new StateFiles(dir, config, readJournal(journalPath, repair));
    if (repair) files.removeUncommittedWeights();
    return files;
  }

  /** The stored ELDER configuration in today's form (see migrate.ts). */
  get elder(): ElderConfig {
    return migrateElderConfig(this.config.elder, this.config.version);
  }

  static create(dir: string, config: Omit<StateConfigFile, 'format' | 'version'>): void {
    const sealed: StateConfigFile = { format: FORMAT, version: CONFIG_VERSION as StateConfigFile['version'], ...config };
    writeFileAtomic(path.join(dir, CONFIG_FILE), [Buffer.from(`${JSON.stringify({ ...sealed, sha256: digest(JSON.stringify(sealed)) }, null, 2)}\n`)]);
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
export function acquireLock(dir: string): () => void {
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

/** Retracts an edit without loading the model (`elder retract`): a journal record under the state lock. */
export function retractEdit(dir: string, id: string): void {
  const release = acquireLock(dir);
  try {
    StateFiles.read(dir, true).retract(id);
  } finally {
    release();
  }
}
