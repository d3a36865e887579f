/**
 * The service's edit store: every submitted edit and its life
 * (queued → training → applied, or failed, or retracted) in SQLite, in WAL
 * mode with synchronous=FULL, so a write is on disk when its transaction
 * returns. The service answers a POST only after the insert has committed.
 *
 * The editor state (journal and weights) stays the authority for which edits
 * are applied; this store is reconciled with it at start-up (see service.ts).
 */
import Database from 'better-sqlite3';
import { ElderError } from '../util/errors.js';

export const EDIT_STATUSES = ['queued', 'training', 'applied', 'failed', 'retracted'] as const;
export type EditStatus = (typeof EDIT_STATUSES)[number];

/** An edit as the store holds it. Times are ISO 8601 strings. */
export interface StoredEdit {
  /** Arrival order. */
  seq: number;
  id: string;
  label: string;
  prompt: string;
  target: string;
  /** What the edit is about, as written in its prompt (null: not given). */
  subject: string | null;
  status: EditStatus;
  /** Why an edit failed, or what reconciliation did to it. */
  reason: string | null;
  submittedAt: string;
  /** Start of the latest training attempt. */
  startedAt: string | null;
  /** When training ended (applied or failed). */
  finishedAt: string | null;
  retractedAt: string | null;
  /** The training batch of the latest attempt. */
  batch: number | null;
  /** The state generation that holds the edit, once applied. */
  generation: number | null;
  loss: number | null;
  iterations: number | null;
  /** Training attempts (an interrupted attempt counts). */
  attempts: number;
}

export interface NewEdit {
  id: string;
  label: string;
  prompt: string;
  target: string;
  subject?: string;
}

export interface BatchOutcome {
  generation: number;
  loss: number;
  iterations: number;
}

/** A write that conflicts with what is stored (an id taken, a retracted edit retracted again). */
export class ConflictError extends ElderError {}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS edits (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  label TEXT NOT NULL,
  prompt TEXT NOT NULL,
  target TEXT NOT NULL,
  subject TEXT,
  status TEXT NOT NULL CHECK (status IN ('queued', 'training', 'applied', 'failed', 'retracted')),
  reason TEXT,
  submitted_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  retracted_at TEXT,
  batch INTEGER,
  generation INTEGER,
  loss REAL,
  iterations INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS edits_status ON edits (status, seq);
CREATE TABLE IF NOT EXISTS batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  status TEXT NOT NULL CHECK (status IN ('training', 'applied', 'failed', 'interrupted')),
  size INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  seconds REAL,
  generation INTEGER,
  reason TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The edits columns under their StoredEdit names. */
const EDIT_COLUMNS = `seq, id, label, prompt, target, subject, status, reason, submitted_at AS submittedAt, started_at AS startedAt,
  finished_at AS finishedAt, retracted_at AS retractedAt, batch, generation, loss, iterations, attempts`;

const now = () => new Date().toISOString();

export class EditStore {
  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {}

  /** Opens (creating when writable) the store in `file`. */
  static open(file: string, options: { readOnly?: boolean } = {}): EditStore {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: options.readOnly === true, fileMustExist: options.readOnly === true });
    } catch (error) {
      throw new ElderError(`${file}: cannot open the edit store (${(error as Error).message})`);
    }
    try {
      if (!options.readOnly) {
        db.pragma('journal_mode = WAL');
        // FULL: a committed transaction survives power loss too, not only a killed process.
        db.pragma('synchronous = FULL');
        db.exec(SCHEMA);
        // Stores made before edits kept their subject gain the column (NULL: none given).
        const columns = db.prepare('PRAGMA table_info(edits)').all() as Array<{ name: string }>;
        if (!columns.some((c) => c.name === 'subject')) db.exec('ALTER TABLE edits ADD COLUMN subject TEXT');
      }
      db.pragma('busy_timeout = 5000');
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new ElderError(`${file}: the edit store is damaged (${String(check)})`);
    } catch (error) {
      db.close();
      if (error instanceof ElderError) throw error;
      throw new ElderError(`${file}: not a usable edit store (${(error as Error).message})`);
    }
    return new EditStore(db, file);
  }

  get journalMode(): string {
    return String(this.db.pragma('journal_mode', { simple: true }));
  }

  /**
   * Inserts edits as `queued`, all or none, in the order given. An id that is
   * already stored (or `taken` says is used elsewhere) is a ConflictError.
   */
  insert(edits: readonly NewEdit[], taken: (id: string) => boolean = () => false): StoredEdit[] {
    const insert = this.db.prepare("INSERT INTO edits (id, label, prompt, target, subject, status, submitted_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)");
    return this.db
      .transaction(() => {
        const at = now();
        const seen = new Set<string>();
        const conflicts: string[] = [];
        for (const { id } of edits) {
          if (seen.has(id) || this.has(id) || taken(id)) conflicts.push(id);
          seen.add(id);
        }
        if (conflicts.length > 0)
          throw new ConflictError(`edit id${conflicts.length > 1 ? 's' : ''} already used: ${conflicts.map((id) => `"${id}"`).join(', ')}`);
        for (const edit of edits) insert.run(edit.id, edit.label, edit.prompt, edit.target, edit.subject ?? null, at);
        return edits.map((edit) => this.get(edit.id)!);
      })
      .immediate();
  }

  /** The next `count` free ids of the form `edit-N`, N counting up across the store's life. */
  autoIds(count: number, taken: (id: string) => boolean = () => false): string[] {
    let next = Number(this.db.prepare("SELECT value FROM meta WHERE key = 'next_auto_id'").pluck().get() ?? 1);
    const ids: string[] = [];
    while (ids.length < count) {
      const id = `edit-${next++}`;
      if (!this.has(id) && !taken(id)) ids.push(id);
    }
    if (!this.db.readonly)
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('next_auto_id', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(next));
    return ids;
  }

  has(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM edits WHERE id = ?').get(id) !== undefined;
  }

  get(id: string): StoredEdit | null {
    return (this.db.prepare(`SELECT ${EDIT_COLUMNS} FROM edits WHERE id = ?`).get(id) as StoredEdit | undefined) ?? null;
  }

  /** Edits in arrival order, optionally of one status, `limit` at most after seq `after`. */
  list(options: { status?: EditStatus; limit?: number; after?: number } = {}): StoredEdit[] {
    return this.db
      .prepare(`SELECT ${EDIT_COLUMNS} FROM edits WHERE seq > ? ${options.status ? 'AND status = ?' : ''} ORDER BY seq LIMIT ?`)
      .all(...[options.after ?? 0, ...(options.status ? [options.status] : []), options.limit ?? -1]) as StoredEdit[];
  }

  counts(): Record<EditStatus, number> {
    const counts = Object.fromEntries(EDIT_STATUSES.map((s) => [s, 0])) as Record<EditStatus, number>;
    for (const row of this.db.prepare('SELECT status, COUNT(*) AS n FROM edits GROUP BY status').all() as Array<{ status: EditStatus; n: number }>)
      counts[row.status] = row.n;
    return counts;
  }

  /** The oldest queued edits, `size` at most: the next batch, in arrival order. */
  nextBatch(size: number): StoredEdit[] {
    return this.list({ status: 'queued', limit: size });
  }

  /** Starts a training batch: its edits move to `training`. Returns the batch number. */
  startBatch(ids: readonly string[]): number {
    return this.db
      .transaction(() => {
        const at = now();
        const batch = Number(this.db.prepare("INSERT INTO batches (status, size, started_at) VALUES ('training', ?, ?)").run(ids.length, at).lastInsertRowid);
        const move = this.db.prepare(
          "UPDATE edits SET status = 'training', started_at = ?, finished_at = NULL, batch = ?, attempts = attempts + 1 WHERE id = ? AND status = 'queued'",
        );
        for (const id of ids) if (move.run(at, batch, id).changes !== 1) throw new ConflictError(`edit "${id}" is no longer queued`);
        return batch;
      })
      .immediate();
  }

  /** Marks a batch applied; its edits still `training` become `applied` (ones retracted meanwhile stay retracted). */
  finishBatch(batch: number, seconds: number, outcome: BatchOutcome): void {
    this.db
      .transaction(() => {
        const at = now();
        this.db
          .prepare("UPDATE batches SET status = 'applied', finished_at = ?, seconds = ?, generation = ? WHERE id = ?")
          .run(at, seconds, outcome.generation, batch);
        this.db
          .prepare(
            "UPDATE edits SET generation = ?, loss = ?, iterations = ?, finished_at = ?, status = CASE status WHEN 'training' THEN 'applied' ELSE status END WHERE batch = ?",
          )
          .run(outcome.generation, outcome.loss, outcome.iterations, at, batch);
      })
      .immediate();
  }

  /** Marks a batch failed; its edits still `training` become `failed` with the reason. */
  failBatch(batch: number, seconds: number, reason: string): void {
    this.db
      .transaction(() => {
        const at = now();
        this.db.prepare("UPDATE batches SET status = 'failed', finished_at = ?, seconds = ?, reason = ? WHERE id = ?").run(at, seconds, reason, batch);
        this.db.prepare("UPDATE edits SET status = 'failed', reason = ?, finished_at = ? WHERE batch = ? AND status = 'training'").run(reason, at, batch);
      })
      .immediate();
  }

  /** After a restart: batches left `training` are interrupted and their edits queued again (in their arrival order). */
  requeueInterrupted(): string[] {
    return this.db
      .transaction(() => {
        const ids = this.db.prepare("SELECT id FROM edits WHERE status = 'training' ORDER BY seq").pluck().all() as string[];
        this.db.prepare("UPDATE batches SET status = 'interrupted', finished_at = ? WHERE status = 'training'").run(now());
        this.db.prepare("UPDATE edits SET status = 'queued', started_at = NULL WHERE status = 'training'").run();
        return ids;
      })
      .immediate();
  }

  /** Sets an edit's status outright (retraction, reconciliation with the editor state). */
  setStatus(id: string, status: EditStatus, details: { reason?: string; generation?: number } = {}): void {
    const at = now();
    const changes = this.db
      .prepare(
        `UPDATE edits SET status = ?, reason = COALESCE(?, reason), generation = COALESCE(?, generation),
         retracted_at = CASE WHEN ? = 'retracted' THEN COALESCE(retracted_at, ?) ELSE NULL END,
         started_at = CASE WHEN ? = 'queued' THEN NULL ELSE started_at END
         WHERE id = ?`,
      )
      .run(status, details.reason ?? null, details.generation ?? null, status, at, status, id).changes;
    if (changes !== 1) throw new ConflictError(`no edit "${id}" in the store`);
  }

  /** Records edits found applied in the editor state but unknown to the store. */
  adopt(edits: ReadonlyArray<NewEdit & { status: 'applied' | 'retracted'; generation: number; reason: string }>): void {
    const insert = this.db.prepare(
      'INSERT INTO edits (id, label, prompt, target, status, reason, submitted_at, generation, retracted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.db
      .transaction(() => {
        const at = now();
        for (const edit of edits)
          insert.run(edit.id, edit.label, edit.prompt, edit.target, edit.status, edit.reason, at, edit.generation, edit.status === 'retracted' ? at : null);
      })
      .immediate();
  }

  /** Total seconds spent in finished training batches, and how many batches ended each way. */
  trainingTotals(): { seconds: number; batches: Record<'applied' | 'failed' | 'interrupted', number> } {
    const seconds = Number(this.db.prepare("SELECT COALESCE(SUM(seconds), 0) FROM batches WHERE status IN ('applied', 'failed')").pluck().get());
    const batches = { applied: 0, failed: 0, interrupted: 0 };
    for (const row of this.db.prepare("SELECT status, COUNT(*) AS n FROM batches WHERE status != 'training' GROUP BY status").all() as Array<{
      status: keyof typeof batches;
      n: number;
    }>)
      batches[row.status] = row.n;
    return { seconds, batches };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
