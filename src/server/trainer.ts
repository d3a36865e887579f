/**
 * The main thread's handle on the training worker (training-worker.ts): one
 * job at a time, progress as it trains, and a rejected promise — never a hang —
 * when the worker fails or dies.
 */
import { Worker } from 'node:worker_threads';
import type { TokenizedEdit } from '../editors/edit.js';
import type { Allocation } from '../editors/elder/allocation.js';
import type { ElderConfig } from '../editors/elder/config.js';
import type { ElderSnapshot } from '../editors/elder/snapshot.js';
import type { TrainedBatch } from '../editors/elder/store/state.js';
import type { IterationReport } from '../editors/elder/training.js';
import type { DecoderLM } from '../models/decoder.js';
import { sharedWeights } from '../models/load.js';
import { ElderError } from '../util/errors.js';

type NamedValues = Array<[string, { data: Float32Array; shape: number[] }]>;

/** What the worker is asked to train: a batch, from the committed state (its snapshot) of one generation. */
export interface TrainJob {
  job: number;
  fromGeneration: number;
  snapshot: ElderSnapshot;
  edits: TokenizedEdit[];
}

/** The training thread's own V8 heap and the memory its objects hold outside it, as of its latest job. */
export interface ThreadMemory {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export type WorkerMessage =
  | { type: 'ready'; memory: ThreadMemory }
  | ({ type: 'progress'; job: number } & IterationReport)
  | {
      type: 'trained';
      job: number;
      iterations: number;
      loss: number;
      codes: TrainedBatch['codes'];
      weights: NamedValues;
      allocations: Array<[string, Allocation]>;
      memory: ThreadMemory;
    }
  | { type: 'failed'; job: number; name: string; message: string; memory: ThreadMemory };

/** Training did not produce a batch (the loss diverged, the worker died…); the message says why. */
export class TrainingError extends ElderError {}

interface Pending {
  job: number;
  fromGeneration: number;
  resolve: (batch: TrainedBatch) => void;
  reject: (error: Error) => void;
  onIteration?: (report: IterationReport) => void;
}

export class TrainingWorker {
  private pending: Pending | null = null;
  private nextJob = 1;
  private exited: Error | null = null;
  /** The thread's memory as it last reported it (on start and after each job). */
  memory: ThreadMemory | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: WorkerMessage) => this.receive(message));
    worker.on('error', (error) => this.die(new TrainingError(`training worker crashed: ${error.message}`)));
    worker.on('exit', (code) => this.die(new TrainingError(`training worker exited with code ${code}`)));
  }

  /**
   * Starts a worker over `model`'s weights (shared, not copied, when the model
   * was loaded with `sharedMemory`) and waits until it has built its model.
   */
  static start(model: DecoderLM, config: ElderConfig): Promise<TrainingWorker> {
    const worker = new Worker(new URL('./training-worker.js', import.meta.url), { workerData: { weights: sharedWeights(model), config } });
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => reject(new TrainingError(`training worker failed to start: ${error.message}`));
      worker.once('error', fail);
      worker.once('message', (message: WorkerMessage) => {
        worker.off('error', fail);
        if (message.type === 'ready') {
          const trainer = new TrainingWorker(worker);
          trainer.memory = message.memory;
          resolve(trainer);
        } else reject(new TrainingError(`training worker sent ${message.type} before ready`));
      });
    });
  }

  get busy(): boolean {
    return this.pending !== null;
  }

  /** True once the worker crashed, exited or was stopped: a new one must be started. */
  get dead(): boolean {
    return this.exited !== null;
  }

  /** Trains `edits` from `snapshot`, the committed state of `fromGeneration` (its weights are transferred); resolves with what to commit. */
  train(edits: TokenizedEdit[], fromGeneration: number, snapshot: ElderSnapshot, onIteration?: (report: IterationReport) => void): Promise<TrainedBatch> {
    if (this.exited) return Promise.reject(this.exited);
    if (this.pending) return Promise.reject(new TrainingError('the training worker is busy with another batch'));
    const job = this.nextJob++;
    const message: TrainJob = { job, fromGeneration, snapshot, edits };
    return new Promise((resolve, reject) => {
      this.pending = { job, fromGeneration, resolve, reject, onIteration };
      this.worker.postMessage(
        message,
        [...snapshot.weights.values()].map((t) => t.data.buffer as ArrayBuffer),
      );
    });
  }

  private receive(message: WorkerMessage): void {
    if (message.type !== 'progress') this.memory = message.memory;
    const pending = this.pending;
    if (message.type === 'ready' || pending === null || message.job !== pending.job) return;
    if (message.type === 'progress') {
      const { iteration, loss, modelLoss, routingLoss } = message;
      pending.onIteration?.({ iteration, loss, modelLoss, routingLoss });
      return;
    }
    this.pending = null;
    if (message.type === 'failed') {
      pending.reject(new TrainingError(message.message));
      return;
    }
    pending.resolve({
      fromGeneration: pending.fromGeneration,
      iterations: message.iterations,
      loss: message.loss,
      codes: message.codes,
      weights: new Map(message.weights),
      allocations: new Map(message.allocations),
    });
  }

  private die(error: Error): void {
    if (this.exited) return;
    this.exited = error;
    const pending = this.pending;
    this.pending = null;
    pending?.reject(error);
  }

  /** Stops the worker; a batch in training is abandoned (its edits stay `training` until requeued). */
  async stop(): Promise<void> {
    this.die(new TrainingError('the training worker was stopped'));
    await this.worker.terminate();
  }
}
