/**
 * The editing service behind `elder serve`, independent of HTTP:
 *
 * - Submitted edits are validated and tokenized, then inserted into the edit
 *   store as `queued` before the call returns.
 * - A background loop trains the oldest queued edits, one batch at a time, in
 *   the training worker, and commits each trained batch to the ELDER state on
 *   this thread. Only a commit changes the weights that answer completions,
 *   and it is synchronous, so a completion sees one committed generation from
 *   its first token to its last — never a half-trained one.
 * - At start-up the store is reconciled with the state (the authority on
 *   which edits are applied), every difference is reported, and edits that
 *   were training when the process stopped are queued again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type EditRequest, expandRequests, type TokenizedEdit, tokenizeEdit, tokenizeEdits } from '../editors/edit.js';
import type { ElderConfig, ElderSettings } from '../editors/elder/config.js';
import type { RoutingDecision } from '../editors/elder/editor.js';
import { type BatchRecord, ElderState, type TrainedBatch } from '../editors/elder/store/state.js';
import { withAnswerEndings } from '../editors/ending.js';
import type { DecoderLM } from '../models/decoder.js';
import { answerIds, type FinishReason, finishReason } from '../models/generate.js';
import { loadModel } from '../models/load.js';
import { requireTokenizer, type TextTokenizer } from '../models/tokenizer.js';
import { ElderError, InputError } from '../util/errors.js';
import { ConflictError, EditStore, type StoredEdit } from './store.js';
import { type ThreadMemory, TrainingWorker } from './trainer.js';

/** The store's file inside the state folder (with its -wal and -shm companions). */
export const STORE_FILE = 'service.sqlite';

/** A write refused because the server runs with `--read-only`. */
export class ReadOnlyError extends ElderError {}
/** No such edit. */
export class NotFoundError extends ElderError {}

export interface ServiceOptions {
  modelDir: string;
  stateDir: string;
  /** Serve completions only: no store writes, no training, the state opened without its lock. */
  readOnly?: boolean;
  /** ELDER settings for a new state, and training settings for this run. */
  overrides?: ElderSettings;
  /** One line per training batch, reconciliation finding and lifecycle event. */
  log?: (line: string) => void;
}

/** One difference found between the store and the state at start-up, and what was done about it. */
export interface ReconcileFinding {
  id: string;
  store: string;
  state: string;
  action: string;
}

/** Whether an edit held at its latest check, and when that ran. */
export interface EditCheck {
  holds: boolean | undefined;
  /** The greedy answer that check read. */
  answer: string | undefined;
  checkedAt: string | undefined;
  checkedGeneration: number | undefined;
}

/** The batch in training now. */
export interface TrainingProgress {
  batch: number;
  ids: string[];
  iteration: number;
  iterations: number;
  loss: number | null;
  startedAt: number;
}

export interface CompletionRequest {
  prompt: string;
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
}

export interface Completion {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
  decision: RoutingDecision;
  /** The committed generation that answered. */
  generation: number;
}

export class EditService {
  readonly reconciliation: ReconcileFinding[] = [];
  private worker: TrainingWorker | null = null;
  private pumping = false;
  private closed = false;
  private current: TrainingProgress | null = null;
  private idle: Promise<void> = Promise.resolve();
  /** Set when the training loop stopped on an unexpected error (reported by /healthz). */
  trainingError: string | null = null;

  private constructor(
    readonly model: DecoderLM,
    readonly tokenizer: TextTokenizer,
    readonly modelName: string,
    readonly state: ElderState,
    readonly store: EditStore | null,
    readonly readOnly: boolean,
    private readonly log: (line: string) => void,
  ) {}

  static async open(options: ServiceOptions): Promise<EditService> {
    const log = options.log ?? (() => {});
    const readOnly = options.readOnly === true;
    // Shared memory: the training worker builds its model over these same weights.
    const { model, tokenizer } = loadModel(options.modelDir, { sharedMemory: !readOnly });
    const tok = requireTokenizer(tokenizer, options.modelDir);
    const modelName = path.basename(path.resolve(options.modelDir));
    const state = ElderState.open(options.stateDir, model, { modelName, overrides: options.overrides, readOnly });
    let store: EditStore | null = null;
    try {
      const storeFile = path.join(options.stateDir, STORE_FILE);
      if (!readOnly) store = EditStore.open(storeFile);
      else if (fs.existsSync(storeFile)) store = EditStore.open(storeFile, { readOnly: true });
      const service = new EditService(model, tok, modelName, state, store, readOnly, log);
      if (!readOnly) {
        service.reconcile();
        service.worker = await TrainingWorker.start(model, state.config);
        service.pump();
      }
      return service;
    } catch (error) {
      store?.close();
      state.close();
      throw error;
    }
  }

  get config(): ElderConfig {
    return this.state.config;
  }

  get generation(): number {
    return this.state.files.weights.generation;
  }

  get training(): TrainingProgress | null {
    return this.current;
  }

  /** The training thread's own heap and buffers as of its latest job; null before it starts. */
  get trainingThreadMemory(): ThreadMemory | null {
    return this.worker?.memory ?? null;
  }

  /** Resolves once no batch is training and nothing is queued (for tests and orderly shutdown). */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  private writableStore(): EditStore {
    if (this.readOnly || this.store === null) throw new ReadOnlyError('this server is read-only (started with --read-only)');
    return this.store;
  }

  /**
   * Validates, tokenizes and stores edits as `queued` (all or none), and
   * starts training in the background. Rephrases become edits `id#1`, `id#2`, ….
   */
  submit(requests: readonly EditRequest[]): StoredEdit[] {
    const store = this.writableStore();
    const inState = (id: string) => this.state.files.edits.has(id);
    const autoIds = store.autoIds(requests.filter((r) => r.id === undefined).length, inState);
    const named = requests.map((request) => (request.id === undefined ? { ...request, id: autoIds.shift()! } : request));
    const edits = expandRequests(named);
    const { problems } = tokenizeEdits(this.tokenizer, this.model.config, edits);
    if (problems.length > 0) throw new InputError(problems.map((p) => p.message).join('; '));
    const stored = store.insert(edits, inState);
    this.pump();
    return stored;
  }

  get(id: string): StoredEdit {
    const edit = this.store?.get(id) ?? null;
    if (edit === null) throw new NotFoundError(`no edit "${id}"`);
    return edit;
  }

  /** The latest check of an applied edit from the state's journal (undefined fields: never checked). */
  holdsOf(id: string): EditCheck {
    const edit = this.state.files.edits.get(id);
    return { holds: edit?.holds, answer: edit?.answer, checkedAt: edit?.checkedAt, checkedGeneration: edit?.checkedGeneration };
  }

  /** Applied, live edits by their latest check: held, lost (did not hold), unchecked. */
  holdCounts(): { held: number; lost: number; unchecked: number } {
    const counts = { held: 0, lost: 0, unchecked: 0 };
    for (const edit of this.state.files.edits.values()) {
      if (edit.status !== 'applied') continue;
      if (edit.holds === undefined) counts.unchecked++;
      else if (edit.holds) counts.held++;
      else counts.lost++;
    }
    return counts;
  }

  /**
   * Retracts an edit. An applied one leaves the state's codebook first (a
   * durable journal record), so its inputs defer to the base model again; a
   * queued one will never train; one in training is retracted from the state
   * as soon as its batch commits.
   */
  retract(id: string): StoredEdit {
    const store = this.writableStore();
    const edit = this.get(id);
    if (edit.status === 'retracted') throw new ConflictError(`edit "${id}" is already retracted`);
    if (edit.status === 'applied') this.state.retract(id);
    store.setStatus(id, 'retracted');
    this.log(`retracted ${id} (was ${edit.status})`);
    return this.get(id);
  }

  /** The edited model's continuation of a prompt, with how ELDER routed it. */
  complete(request: CompletionRequest): Completion {
    const promptIds = this.tokenizer.encode(request.prompt);
    if (promptIds.length === 0) throw new InputError('"prompt" encodes to no tokens');
    const context = this.model.config.contextLength;
    if (promptIds.length >= context)
      throw new InputError(`"prompt" takes ${promptIds.length} tokens; the model's context is ${context} tokens, with room needed for at least one new token`);
    const generation = this.generation;
    const answer = this.state.editor.answer(promptIds, request.maxTokens, {
      temperature: request.temperature,
      topP: request.topP,
      seed: request.seed,
    });
    // The stop token ends the text; it is not part of it (as in the common completions APIs).
    return {
      text: this.tokenizer.decode(answerIds(answer)),
      promptTokens: promptIds.length,
      completionTokens: answer.ids.length,
      finishReason: finishReason(answer),
      decision: answer.decision,
      generation,
    };
  }

  /** Starts the training loop unless it runs already. */
  private pump(): void {
    if (this.pumping || this.closed || this.readOnly || this.trainingError !== null) return;
    this.pumping = true;
    this.idle = (async () => {
      try {
        for (;;) {
          if (this.closed) return;
          const batch = this.store!.nextBatch(this.config.training.batchSize);
          if (batch.length === 0) return;
          await this.trainBatch(batch);
        }
      } catch (error) {
        // A bug, not a bad edit: stop training, keep serving, and say so loudly.
        this.trainingError = (error as Error).stack ?? String(error);
        this.log(`training loop stopped: ${this.trainingError}`);
      } finally {
        this.pumping = false;
      }
    })();
  }

  /** Queued edits as the state trains them (with their endings when training asks for them); an edit that cannot be tokenized fails alone. */
  private tokenizeBatch(edits: StoredEdit[]): TokenizedEdit[] {
    const { tokenized, problems } = tokenizeEdits(
      this.tokenizer,
      this.model.config,
      edits.map(({ subject, ...edit }) => (subject === null ? edit : { ...edit, subject })),
    );
    for (const { id, message } of problems) {
      this.store!.setStatus(id, 'failed', { reason: message });
      this.log(`edit ${id} failed before training: ${message}`);
    }
    if (tokenized.length === 0) return [];
    return this.config.training.trainEnding ? withAnswerEndings(this.model, this.tokenizer, tokenized) : tokenized;
  }

  /** Commits a trained batch, retracts what was retracted while it trained, and checks what holds. */
  private commitBatch(
    tokenized: TokenizedEdit[],
    trained: TrainedBatch,
  ): { record: BatchRecord; retracted: string[]; checks: ReturnType<ElderState['verifyBatch']> } {
    const record = this.state.commitTrained(tokenized, trained);
    // Retracted while it trained: the commit holds it, the state's codebook must not.
    const retracted = tokenized.map((e) => e.id).filter((id) => this.store!.get(id)?.status === 'retracted');
    for (const id of retracted) this.state.retract(id);
    const checks = this.state.verifyBatch(
      tokenized.filter((e) => !retracted.includes(e.id)),
      (stored) => tokenizeEdit(this.tokenizer, this.model.config, stored),
      (ids) => this.tokenizer.decode(ids),
    );
    return { record, retracted, checks };
  }

  /** Trains one batch of queued edits in the worker, commits it, checks it, and records every outcome in the store. */
  private async trainBatch(edits: StoredEdit[]): Promise<void> {
    const tokenized = this.tokenizeBatch(edits);
    if (tokenized.length === 0) return;
    const store = this.store!;
    const ids = tokenized.map((e) => e.id);
    const batch = store.startBatch(ids);
    const started = performance.now();
    this.current = { batch, ids, iteration: 0, iterations: this.config.training.iterations, loss: null, startedAt: Date.now() };
    this.log(`batch ${batch}: training ${ids.length} edit${ids.length > 1 ? 's' : ''} (${ids.join(', ')}) from generation ${this.generation}`);
    try {
      this.worker ??= await TrainingWorker.start(this.model, this.config);
      const { generation, snapshot } = this.state.trainingSnapshot();
      const trained = await this.worker.train(tokenized, generation, snapshot, (report) => {
        if (this.current) Object.assign(this.current, { iteration: report.iteration, loss: report.loss });
      });
      if (this.closed) return;
      const { record, retracted, checks } = this.commitBatch(tokenized, trained);
      const seconds = (performance.now() - started) / 1000;
      store.finishBatch(batch, seconds, { generation: record.generation, loss: record.loss, iterations: record.iterations });
      const notHolding = checks.batch.filter((c) => !c.holds).map((c) => c.id);
      const lost = checks.earlier.filter((c) => !c.holds).map((c) => c.id);
      this.log(
        `batch ${batch}: applied ${ids.length} edit${ids.length > 1 ? 's' : ''} in ${seconds.toFixed(2)} s (${record.iterations} iterations, loss ${record.loss.toFixed(4)}) → generation ${record.generation}${retracted.length ? `; retracted meanwhile: ${retracted.join(', ')}` : ''}; ${checks.batch.length - notHolding.length} of ${checks.batch.length} hold${notHolding.length ? ` (not: ${notHolding.join(', ')})` : ''}; ${checks.earlier.length - lost.length} of ${checks.earlier.length} earlier edits re-checked hold${lost.length ? ` (lost: ${lost.join(', ')})` : ''}`,
      );
    } catch (error) {
      if (this.closed) return;
      if (!(error instanceof ElderError)) throw error;
      const seconds = (performance.now() - started) / 1000;
      store.failBatch(batch, seconds, error.message);
      this.log(`batch ${batch}: failed after ${seconds.toFixed(2)} s: ${error.message}`);
      if (this.worker?.dead) this.worker = null;
    } finally {
      this.current = null;
    }
  }

  /**
   * Brings the store in line with the state. The state decides what is
   * applied or retracted; the store remembers what was asked. Every
   * difference is logged and kept in {@link reconciliation}.
   */
  private reconcile(): void {
    const store = this.store!;
    const report = (id: string, storeStatus: string, stateStatus: string, action: string) => {
      this.reconciliation.push({ id, store: storeStatus, state: stateStatus, action });
      this.log(`reconcile: edit ${id}: store says ${storeStatus}, state says ${stateStatus} → ${action}`);
    };
    const stateEdits = this.state.files.edits;
    const known = new Set<string>();
    for (const edit of store.list()) {
      known.add(edit.id);
      const inState = stateEdits.get(edit.id);
      const stateStatus = inState?.status ?? 'absent';
      if (inState === undefined) {
        if (edit.status === 'applied') {
          store.setStatus(edit.id, 'queued', { reason: 'queued again: applied in the store but missing from the editor state' });
          report(edit.id, edit.status, stateStatus, 'queued for training again');
        }
        continue;
      }
      if (inState.status === 'applied') {
        if (edit.status === 'retracted') {
          // Retracted while its batch trained, then the process stopped before the state heard of it.
          this.state.retract(edit.id);
          report(edit.id, edit.status, stateStatus, 'retracted in the state');
        } else if (edit.status !== 'applied') {
          store.setStatus(edit.id, 'applied', {
            generation: inState.generation,
            reason: `recovered: committed to the state (generation ${inState.generation}) before the store recorded it`,
          });
          report(edit.id, edit.status, stateStatus, `marked applied (generation ${inState.generation})`);
        }
      } else if (edit.status !== 'retracted') {
        store.setStatus(edit.id, 'retracted', { reason: 'retracted in the editor state' });
        report(edit.id, edit.status, stateStatus, 'marked retracted');
      }
    }
    const adopted = [...stateEdits.values()].filter((e) => !known.has(e.id));
    if (adopted.length > 0) {
      store.adopt(
        adopted.map((e) => ({
          id: e.id,
          label: e.label,
          prompt: e.prompt,
          target: e.target,
          status: e.status,
          generation: e.generation,
          reason: 'adopted: found in the editor state, not submitted through this service',
        })),
      );
      for (const e of adopted) report(e.id, 'absent', e.status, `recorded as ${e.status}`);
    }
    const requeued = store.requeueInterrupted();
    if (requeued.length > 0) this.log(`requeued ${requeued.length} edit${requeued.length > 1 ? 's' : ''} interrupted in training: ${requeued.join(', ')}`);
  }

  /** Stops training (an unfinished batch is requeued at the next start), closes the store and releases the state. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker?.stop();
    await this.idle.catch(() => {});
    if (this.store && !this.readOnly) this.store.requeueInterrupted();
    this.store?.close();
    this.state.close();
  }
}
