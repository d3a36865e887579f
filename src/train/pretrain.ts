/**
 * Language-model pretraining with elder's own engine: next-token loss on
 * random windows of a token stream, AdamW with a cosine schedule and
 * gradient clipping, periodic validation, and checkpoints that a killed run
 * resumes from exactly (weights, optimizer moments, step, history).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DecoderLM } from '../models/decoder.js';
import { loadModel, saveModel } from '../models/load.js';
import { SafetensorsFile, writeSafetensors } from '../models/safetensors.js';
import { AdamW } from '../tensor/adamw.js';
import { BufferPool, withBufferPool } from '../tensor/buffers.js';
import { clipGradNorm } from '../tensor/clip.js';
import { crossEntropy } from '../tensor/ops/crossentropy.js';
import { backward, noGrad, type Tensor } from '../tensor/tensor.js';
import { fsyncDir, writeFileAtomic } from '../util/atomic-file.js';
import { CheckpointError, NonFiniteError, ShapeError } from '../util/errors.js';
import { Random } from '../util/random.js';
import { type CosineSchedule, cosineLearningRate } from './schedule.js';

export interface PretrainConfig extends CosineSchedule {
  batchSize: number;
  /** Tokens per training window (≤ the model's context). */
  windowLength: number;
  weightDecay: number;
  /** Global gradient-norm bound. */
  clipNorm: number;
  seed: number;
  /** Validate every this many steps (and at the end). */
  evalEvery: number;
  /** Validation windows per evaluation (consecutive, non-overlapping, the same every time). */
  evalWindows: number;
  /** Write a checkpoint at least this often. */
  checkpointSeconds: number;
}

export interface TrainingRecord {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
}

export interface ValidationRecord {
  step: number;
  loss: number;
}

/** What a checkpoint remembers besides weights and moments. */
export interface TrainerState {
  step: number;
  /** Seconds spent training, summed over every resumed run. */
  trainingSeconds: number;
  history: TrainingRecord[];
  validation: ValidationRecord[];
  config: PretrainConfig;
}

export interface TokenSplit {
  train: Int32Array;
  validation: Int32Array;
  /**
   * Offsets in `train` where documents start. When given, every window starts
   * at one, so the model sees texts begin at position 0, as prompts do at
   * inference; otherwise windows start anywhere.
   */
  trainStarts?: Int32Array;
}

export interface PretrainProgress {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  tokensPerSecond: number;
  /** Set on steps that ran a validation. */
  validationLoss?: number;
  /** Set when a checkpoint was just written. */
  checkpointed?: boolean;
}

export interface PretrainIO {
  /** Folder holding the resumable checkpoint (created on demand). */
  checkpointDir: string;
  onProgress?: (progress: PretrainProgress, state: TrainerState, model: DecoderLM) => void;
  /** Polled between steps; true → checkpoint and return early (e.g. after SIGINT). */
  shouldStop?: () => boolean;
}

export interface PretrainResult {
  model: DecoderLM;
  state: TrainerState;
  /** True when every step ran; false after an early stop. */
  finished: boolean;
  resumedFrom: number;
}

const CHECKPOINT = 'checkpoint';

/**
 * Trains `freshModel()` — or the model of an existing checkpoint in
 * `io.checkpointDir`, continuing its step count — for `config.totalSteps`.
 * Asynchronous only so that signals are handled between steps: `shouldStop`
 * set by a SIGINT handler stops the run after the current step, with a
 * checkpoint of it.
 */
export async function pretrain(freshModel: () => DecoderLM, data: TokenSplit, config: PretrainConfig, io: PretrainIO): Promise<PretrainResult> {
  validateData(data, config);
  const resumed = readCheckpoint(io.checkpointDir);
  const model = resumed?.model ?? freshModel();
  if (config.windowLength > model.config.contextLength)
    throw new ShapeError(`training windows of ${config.windowLength} tokens exceed the model's context of ${model.config.contextLength}`);
  const state: TrainerState = resumed?.state ?? { step: 0, trainingSeconds: 0, history: [], validation: [], config };
  state.config = config;

  const names = [...model.parameters.keys()];
  const params = names.map((name) => model.parameters.get(name)!);
  model.setRequiresGrad(true);
  // GPT-2 practice: decay only matrices; biases, norm gains and position tables are left alone.
  const noDecay = new Set(names.filter((name) => model.parameters.get(name)!.rank < 2 || name.includes('wpe')).map((name) => model.parameters.get(name)!));
  const optimizer = new AdamW(params, { lr: config.maxLr, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: config.weightDecay, noDecay });
  if (resumed !== null) optimizer.importState({ steps: resumed.state.step, moments: names.map((name) => resumed.moments.get(name)!) });

  const resumedFrom = state.step;
  const pool = new BufferPool();
  let lastCheckpoint = performance.now();
  const runStart = performance.now();
  const baseSeconds = state.trainingSeconds;
  let tokensThisRun = 0;
  const save = () => {
    state.trainingSeconds = baseSeconds + (performance.now() - runStart) / 1000;
    writeCheckpoint(io.checkpointDir, model, names, optimizer, state);
    lastCheckpoint = performance.now();
  };

  while (state.step < config.totalSteps) {
    // Give the event loop a turn between steps: a signal handler (Ctrl-C, kill) only runs then,
    // so without this an interrupt would wait for the whole run and lose everything since the last checkpoint.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (io.shouldStop?.() === true) {
      save();
      return { model, state, finished: false, resumedFrom };
    }
    const lr = cosineLearningRate(state.step, config);
    optimizer.lr = lr;
    optimizer.zeroGrad();
    const batch = sampleWindows(data.train, config, state.step, data.trainStarts);
    const { loss: lossValue, gradNorm } = trainingStep(model, optimizer, batch, config, pool);
    if (!Number.isFinite(lossValue)) throw new NonFiniteError(`training loss is ${lossValue} at step ${state.step}; the last checkpoint is intact`);
    state.step++;
    tokensThisRun += config.batchSize * config.windowLength;
    state.history.push({ step: state.step, loss: lossValue, lr, gradNorm });

    const progress: PretrainProgress = {
      step: state.step,
      totalSteps: config.totalSteps,
      loss: lossValue,
      lr,
      tokensPerSecond: tokensThisRun / ((performance.now() - runStart) / 1000),
    };
    if (state.step % config.evalEvery === 0 || state.step === config.totalSteps) {
      progress.validationLoss = validationLoss(model, data.validation, config);
      state.validation.push({ step: state.step, loss: progress.validationLoss });
    }
    if (state.step === config.totalSteps || performance.now() - lastCheckpoint > config.checkpointSeconds * 1000) {
      save();
      progress.checkpointed = true;
    }
    io.onProgress?.(progress, state, model);
  }
  state.trainingSeconds = baseSeconds + (performance.now() - runStart) / 1000;
  return { model, state, finished: true, resumedFrom };
}

/**
 * One optimisation step on a batch of windows: loss, backward, clipping,
 * AdamW. With a pool, every activation of the step comes from it and returns
 * to it, so the next step reuses the same buffers instead of the collector
 * freeing and the allocator zeroing them. A non-finite loss skips the update.
 */
export function trainingStep(
  model: DecoderLM,
  optimizer: AdamW,
  windows: Int32Array,
  config: Pick<PretrainConfig, 'batchSize' | 'windowLength' | 'clipNorm'>,
  pool: BufferPool | null,
): { loss: number; gradNorm: number } {
  const step = () => {
    const loss = windowLoss(model, windows, config.batchSize, config.windowLength);
    const value = loss.item();
    if (!Number.isFinite(value)) return { loss: value, gradNorm: NaN };
    backward(loss);
    const gradNorm = clipGradNorm(optimizer.params, config.clipNorm);
    optimizer.step();
    return { loss: value, gradNorm };
  };
  return pool === null ? step() : withBufferPool(pool, step);
}

/** Mean next-token loss of B windows of T + 1 tokens each. */
function windowLoss(model: DecoderLM, windows: Int32Array, B: number, T: number): Tensor {
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    inputs.set(windows.subarray(b * (T + 1), b * (T + 1) + T), b * T);
    targets.set(windows.subarray(b * (T + 1) + 1, (b + 1) * (T + 1)), b * T);
  }
  const hidden = model.hiddenStates(inputs, B, T);
  const logits = model.lmHead(hidden.reshape([B * T, model.config.width]));
  return crossEntropy(logits, targets).loss;
}

/**
 * The windows of step `step`: a function of (seed, step) alone, so a resumed
 * run sees exactly the batches an uninterrupted one would have. With
 * `starts`, each window begins at a document start (one that leaves less than
 * a window is moved back to the last full window).
 */
export function sampleWindows(
  tokens: Int32Array,
  config: Pick<PretrainConfig, 'batchSize' | 'windowLength' | 'seed'>,
  step: number,
  starts?: Int32Array,
): Int32Array {
  const span = config.windowLength + 1;
  const rng = new Random((Math.imul(config.seed + 1, 0x9e3779b1) ^ step) >>> 0);
  const out = new Int32Array(config.batchSize * span);
  for (let b = 0; b < config.batchSize; b++) {
    const start =
      starts !== undefined && starts.length > 0 ? Math.min(starts[rng.int(starts.length)], tokens.length - span) : rng.int(tokens.length - span + 1);
    out.set(tokens.subarray(start, start + span), b * span);
  }
  return out;
}

/** Mean next-token loss over the first `evalWindows` consecutive windows of the validation tokens. */
export function validationLoss(model: DecoderLM, tokens: Int32Array, config: Pick<PretrainConfig, 'batchSize' | 'windowLength' | 'evalWindows'>): number {
  const span = config.windowLength + 1;
  const windows = Math.min(config.evalWindows, Math.floor((tokens.length - 1) / config.windowLength));
  let sum = 0;
  return noGrad(() => {
    for (let first = 0; first < windows; first += config.batchSize) {
      const count = Math.min(config.batchSize, windows - first);
      const batch = new Int32Array(count * span);
      for (let b = 0; b < count; b++) {
        const start = (first + b) * config.windowLength;
        batch.set(tokens.subarray(start, start + span), b * span);
      }
      sum += windowLoss(model, batch, count, config.windowLength).item() * count;
    }
    return sum / windows;
  });
}

function validateData(data: TokenSplit, config: PretrainConfig): void {
  const span = config.windowLength + 1;
  if (data.train.length < span) throw new ShapeError(`training text has ${data.train.length} tokens, fewer than one window of ${span}`);
  if (data.validation.length < span) throw new ShapeError(`validation text has ${data.validation.length} tokens, fewer than one window of ${span}`);
}

// --- checkpoints -----------------------------------------------------------

/**
 * A checkpoint is a folder: a loadable model (config.json + F32
 * model.safetensors), optimizer.safetensors with both Adam moments, and
 * trainer.json. It is written beside the live one and swapped in by renames,
 * so a kill at any moment leaves one complete checkpoint.
 */
function writeCheckpoint(dir: string, model: DecoderLM, names: string[], optimizer: AdamW, state: TrainerState): void {
  fs.mkdirSync(dir, { recursive: true });
  const live = path.join(dir, CHECKPOINT);
  const next = path.join(dir, `${CHECKPOINT}.next`);
  const old = path.join(dir, `${CHECKPOINT}.old`);
  fs.rmSync(next, { recursive: true, force: true });
  saveModel(next, model, { dtype: 'F32' });
  const { moments } = optimizer.exportState();
  const optimizerTensors = new Map<string, { data: Float32Array; shape: readonly number[] }>();
  names.forEach((name, i) => {
    optimizerTensors.set(`m.${name}`, { data: moments[i].m, shape: [moments[i].m.length] });
    optimizerTensors.set(`v.${name}`, { data: moments[i].v, shape: [moments[i].v.length] });
  });
  writeSafetensors(path.join(next, 'optimizer.safetensors'), optimizerTensors);
  writeFileAtomic(path.join(next, 'trainer.json'), [Buffer.from(`${JSON.stringify(state)}\n`)]);
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(live)) fs.renameSync(live, old);
  fs.renameSync(next, live);
  fsyncDir(dir);
  fs.rmSync(old, { recursive: true, force: true });
}

interface Checkpoint {
  model: DecoderLM;
  moments: Map<string, { m: Float32Array; v: Float32Array }>;
  state: TrainerState;
}

/** The checkpoint in `dir`, or null when there is none. A swap cut short falls back to the previous checkpoint. */
export function readCheckpoint(dir: string): Checkpoint | null {
  let folder = path.join(dir, CHECKPOINT);
  if (!fs.existsSync(folder)) {
    folder = path.join(dir, `${CHECKPOINT}.old`);
    if (!fs.existsSync(folder)) return null;
  }
  const trainerFile = path.join(folder, 'trainer.json');
  let state: TrainerState;
  try {
    state = JSON.parse(fs.readFileSync(trainerFile, 'utf8')) as TrainerState;
  } catch (error) {
    throw new CheckpointError(trainerFile, `cannot read the trainer state (${(error as Error).message})`);
  }
  const { model } = loadModel(folder);
  const optimizerFile = SafetensorsFile.open(path.join(folder, 'optimizer.safetensors'));
  try {
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const name of model.parameters.keys()) {
      moments.set(name, { m: optimizerFile.read(`m.${name}`).data, v: optimizerFile.read(`v.${name}`).data });
    }
    return { model, moments, state };
  } finally {
    optimizerFile.close();
  }
}
