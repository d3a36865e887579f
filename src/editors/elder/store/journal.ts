/**
 * The append-only edit journal (`journal.jsonl`). Each line is one JSON record
 * carrying the sha256 of its own content. A line is acknowledged once it is
 * fsync'ed; a torn or corrupt *last* line (a crash mid-append) is dropped and
 * truncated away, while a bad line before the end means the file was damaged
 * and loading refuses it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { StateError } from './errors.js';

export interface JournalEditEntry {
  id: string;
  label: string;
  prompt: string;
  target: string;
  /** Experts chosen per edited layer after training. */
  experts: number[][];
  /** Packed allocation code, hex. */
  code: string;
  /** The pre-assigned allocation of the label. */
  allocation: number[][];
  /** Token ids of prompt and target (absent in states written before replay existed). */
  promptIds?: number[];
  targetIds?: number[];
  /** Index of the subject's last prompt token, for edits that named a subject. */
  subjectEnd?: number;
  /** Index of its first prompt token (absent in states written before the span subject test). */
  subjectStart?: number;
  /** The subject's tokens as a text's opening words (likewise). */
  subjectIds?: number[];
  /** The base model's ending after its own answer, trained after the target (edits trained with `trainEnding`). */
  endingIds?: number[];
}

/** Whether an edit holds: the edited model gives its whole target (teacher-forced argmax) after its prompt, and its greedy answer reads as the target. */
export interface HoldsCheck {
  id: string;
  holds: boolean;
  /** The greedy answer the check read (absent in checks journaled before answers were read). */
  answer?: string;
}

export type JournalRecord =
  | {
      type: 'batch';
      seq: number;
      at: string;
      generation: number;
      weights: string;
      weightsSha256: string;
      iterations: number;
      loss: number;
      edits: JournalEditEntry[];
    }
  | { type: 'retract'; seq: number; at: string; id: string }
  /** Checks run on generation `generation`: a batch's own edits and a sample of earlier ones. */
  | { type: 'check'; seq: number; at: string; generation: number; results: HoldsCheck[] };

type Unsealed<T> = T extends unknown ? Omit<T, 'seq' | 'at'> : never;

/** SHA-256 of a record's JSON: seals journal lines and the state's config.json. */
export function digest(body: string): string {
  return crypto.createHash('sha256').update(body).digest('hex');
}

/**
 * Reads every record. Complete lines (ending in a newline) must all be valid.
 * Text after the last newline is a write torn by a crash, never acknowledged:
 * it is dropped (and truncated away when `repair` is set). The exception is a
 * whole sealed record whose newline is missing or damaged: no torn write looks
 * like that, and the weights it names were durable before it was written, so
 * it is kept, and `repair` puts the newline back (one byte, in place).
 */
export function readJournal(file: string, repair: boolean): JournalRecord[] {
  if (!fs.existsSync(file)) return [];
  const bytes = fs.readFileSync(file);
  const completeLength = bytes.lastIndexOf(0x0a) + 1;
  const lines = bytes.subarray(0, completeLength).toString('utf8').split('\n').slice(0, -1);
  const records = lines.map((line, i) => {
    const record = parseLine(line);
    if (record === null) throw new StateError(`${file}: line ${i + 1} is corrupt (checksum or JSON); the journal was damaged`);
    if (record.seq !== i + 1) throw new StateError(`${file}: line ${i + 1} has sequence ${record.seq}, expected ${i + 1}`);
    return record;
  });
  if (completeLength === bytes.length) return records;
  const tail = bytes.subarray(completeLength);
  const whole = (candidate: Buffer) => {
    const record = parseLine(candidate.toString('utf8'));
    return record !== null && record.seq === records.length + 1 ? record : null;
  };
  const unterminated = whole(tail);
  const damagedNewline = unterminated === null && tail.length > 1 ? whole(tail.subarray(0, -1)) : null;
  const kept = unterminated ?? damagedNewline;
  if (kept !== null) records.push(kept);
  if (repair) {
    if (kept === null) {
      fs.truncateSync(file, completeLength);
    } else {
      const fd = fs.openSync(file, 'r+');
      try {
        fs.writeSync(fd, Buffer.from('\n'), 0, 1, unterminated !== null ? bytes.length : bytes.length - 1);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  return records;
}

function parseLine(line: string): JournalRecord | null {
  try {
    const { sha256, ...body } = JSON.parse(line) as JournalRecord & { sha256?: string };
    return sha256 === digest(JSON.stringify(body)) ? (body as JournalRecord) : null;
  } catch {
    return null;
  }
}

/** Appends one record durably (write, fsync) and returns it sealed with seq and time. */
export function appendJournal(file: string, seq: number, record: Unsealed<JournalRecord>): JournalRecord {
  const sealed = { seq, at: new Date().toISOString(), ...record } as JournalRecord;
  const body = JSON.stringify(sealed);
  const line = `${JSON.stringify({ ...sealed, sha256: digest(body) })}\n`;
  const fd = fs.openSync(file, 'a');
  try {
    fs.writeSync(fd, line);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return sealed;
}
