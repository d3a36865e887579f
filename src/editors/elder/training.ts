/**
 * Training one batch of edits: the frozen blocks run once (they never
 * change), then each iteration runs the edited blocks and those above with
 * the LM head on the target rows and takes an Adam step on the routers and
 * experts (a fresh Adam per batch). With rehearsal, each iteration also
 * replays earlier edits from their remembered frozen passes, and early
 * stopping looks at the whole (old edits must hold too).
 */
import { countHits } from '../../models/batch.js';
import type { BufferPool } from '../../tensor/buffers.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { Random } from '../../util/random.js';
import { prepareBatch } from '../common/batch.js';
import { trainLoop } from '../common/train-loop.js';
import type { TokenizedEdit } from '../edit.js';
import { type Allocation, presetsOf } from './allocation.js';
import type { BatchLosses, ElderCore, FrozenPrefix, RoutedCode } from './core.js';
import { type EditMemory, frozenPass, trainedSequence } from './frozen.js';
import type { SettingsOf, SettingsTable } from './settings.js';

export type TrainRouting = 'router' | 'preset';
export const TRAIN_ROUTINGS: readonly TrainRouting[] = ['router', 'preset'];

/** How a batch trains, with the paper's values as defaults; every setting may change from one run to the next. */
export const TRAINING_SETTINGS = [
  { name: 'lr', type: 'number', min: 0, exclusive: true, scope: 'run', value: 'X', help: 'Adam learning rate', default: 1e-4 },
  {
    name: 'iterations',
    type: 'integer',
    min: 1,
    scope: 'run',
    flag: 'iters',
    value: 'N',
    help: 'optimisation steps per batch',
    default: 50,
  },
  { name: 'batchSize', type: 'integer', min: 1, scope: 'run', flag: 'batch', value: 'N', help: 'edits trained together', default: 4 },
  { name: 'earlyStop', type: 'boolean', scope: 'run', help: 'stop a batch once every target is the greedy answer', default: false },
  {
    name: 'trainEnding',
    type: 'boolean',
    scope: 'run',
    help: "train each target followed by the base model's own ending after its answer (editors/ending.ts)",
    default: false,
  },
  {
    name: 'trainRouting',
    type: 'choice',
    choices: TRAIN_ROUTINGS,
    scope: 'run',
    help: 'experts used while training: the router top-k (the paper) or the preset allocation (the official code\'s "hard" target)',
    default: 'router',
  },
  {
    name: 'queryNoise',
    type: 'number',
    min: 0,
    scope: 'run',
    value: 'X',
    help: "Gaussian noise added to each router query every iteration, relative to the query's RMS (0: none, the paper)",
    default: 0,
  },
  {
    name: 'hiddenNoise',
    type: 'number',
    min: 0,
    scope: 'run',
    value: 'X',
    help: "Gaussian noise added to each token's hidden state entering the first edited block every iteration, relative to its RMS (0: none, the paper)",
    default: 0,
  },
] as const satisfies SettingsTable;

export type TrainingConfig = SettingsOf<typeof TRAINING_SETTINGS>;

export interface IterationReport {
  iteration: number;
  loss: number;
  modelLoss: number;
  routingLoss: number;
}

export interface BatchResult {
  iterations: number;
  loss: number;
  /** Per edit: the experts its router picks in each edited block, and the packed code. */
  codes: RoutedCode[];
  /** The allocation of each of the batch's labels, those drawn for it among them (stored when the batch commits). */
  allocations: ReadonlyMap<string, Allocation>;
}

export interface TrainOptions {
  /** Training's activation buffers, reused by every batch. */
  scratch: BufferPool;
  /** Earlier edits replayed per iteration (0: none, the paper). */
  replay: number;
  onIteration?: (report: IterationReport) => void;
}

/**
 * Trains the core's mixture on one batch of edits next to the remembered
 * edits `memory` (in the order they were applied) and returns each edit's
 * code. `allocationOf` gives each label's allocation, for the batch's labels
 * and the remembered edits'. Nothing is stored: the caller commits the codes
 * and the batch's allocations once the weights are durable.
 */
export function trainBatch(
  core: ElderCore,
  memory: readonly EditMemory[],
  edits: readonly TokenizedEdit[],
  allocationOf: (label: string) => Allocation,
  training: TrainingConfig,
  options: TrainOptions,
): BatchResult {
  const { model, config } = core;
  const prepared = prepareBatch(
    edits.map((edit) => trainedSequence(edit, training.trainEnding)),
    core.padId,
  );
  const prefix = frozenPass(core, prepared.tokens, prepared.queryRows, new Map());
  const presetsFor = (labels: readonly string[]) => presetsOf(labels.map(allocationOf), core.blocks.length, config.topK);
  const presets = presetsFor(edits.map((e) => e.label));
  const throughPresets = training.trainRouting === 'preset';
  const earlier = memory.filter((m) => !edits.some((e) => e.id === m.id));
  const replayCount = Math.min(options.replay, earlier.length);
  const noisy = training.queryNoise > 0 || training.hiddenNoise > 0;
  // Without replay or noise every iteration runs the same batch: the first edited block's
  // products up to the adapted linear are computed once (otherwise the batch changes each time).
  const frozen: FrozenPrefix =
    replayCount === 0 && !noisy ? { ...prefix, frozenOutputs: model.frozenLinearOutputs(prefix.hidden, config.firstBlock, new Set(core.editedSites)) } : prefix;
  // Its own stream, so that noise leaves the replayed edits' draws as they are without it.
  const noiseRng = new Random((Math.imul(config.seed + 7, 0x85ebca6b) ^ memory.length) >>> 0);
  const perturb = (p: FrozenPrefix): FrozenPrefix =>
    noisy ? { hidden: jitter(p.hidden, training.hiddenNoise, noiseRng), query: jitter(p.query, training.queryNoise, noiseRng) } : p;
  // Seeded by the memory's size, so a batch replays the same earlier edits whenever it is trained.
  const rng = new Random((Math.imul(config.seed + 1, 0x9e3779b1) ^ memory.length) >>> 0);
  const { onIteration } = options;
  const { iterations, loss } = trainLoop(
    core.mixture.parameters(),
    { ...training, pool: options.scratch },
    () => {
      const replayed = replayCount === 0 ? [] : rng.sample(earlier, replayCount);
      const losses =
        replayed.length === 0
          ? core.batchLosses(prepared, perturb(frozen), presets, throughPresets)
          : replayLosses(core, edits, prefix, replayed, training, presetsFor, throughPresets, perturb);
      return {
        loss: losses.total,
        solved: () => countHits(losses.predictions, losses.targets) === losses.targets.length,
        parts: { modelLoss: losses.modelLoss.item(), routingLoss: losses.routingLoss.item() },
      };
    },
    onIteration === undefined
      ? undefined
      : ({ iteration, loss, parts }) => onIteration({ iteration, loss, modelLoss: parts!.modelLoss, routingLoss: parts!.routingLoss }),
    'ELDER',
  );
  const routing = noGrad(() => core.mixture.route(prefix.query));
  return { iterations, loss, codes: edits.map((_, b) => core.codeOf(routing, b)), allocations: new Map(edits.map((e) => [e.label, allocationOf(e.label)])) };
}

/** The losses of a batch next to replayed earlier edits: one padded batch of the batch's own frozen prefix and the replayed edits' remembered ones. */
function replayLosses(
  core: ElderCore,
  edits: readonly TokenizedEdit[],
  prefix: FrozenPrefix,
  replayed: readonly EditMemory[],
  training: TrainingConfig,
  presetsFor: (labels: readonly string[]) => Int32Array[],
  throughPresets: boolean,
  perturb: (prefix: FrozenPrefix) => FrozenPrefix,
): BatchLosses {
  const all = [...edits, ...replayed];
  const prepared = prepareBatch(
    all.map((edit) => trainedSequence(edit, training.trainEnding)),
    core.padId,
  );
  const width = core.model.config.width;
  const inDim = prefix.query.lastDim;
  const steps = prepared.tokens.steps;
  const ownSteps = prefix.hidden.shape[1];
  const hidden = Tensor.zeros([all.length, steps, width]);
  const query = Tensor.zeros([all.length, inDim]);
  edits.forEach((_, b) => {
    hidden.data.set(prefix.hidden.data.subarray(b * ownSteps * width, (b + 1) * ownSteps * width), b * steps * width);
    query.data.set(prefix.query.data.subarray(b * inDim, (b + 1) * inDim), b * inDim);
  });
  replayed.forEach((m, r) => {
    const b = edits.length + r;
    hidden.data.set(m.hidden, b * steps * width);
    query.data.set(m.query, b * inDim);
  });
  return core.batchLosses(prepared, perturb({ hidden, query }), presetsFor(all.map((e) => e.label)), throughPresets);
}

/** `t` with Gaussian noise of `scale` × each row's RMS added to each row (its last axis); `t` itself when `scale` is 0. */
function jitter(t: Tensor, scale: number, rng: Random): Tensor {
  if (scale === 0) return t;
  const width = t.lastDim;
  const out = new Tensor(t.data.slice(), [...t.shape]);
  const data = out.data;
  for (let row = 0; row < data.length / width; row++) {
    let sum = 0;
    for (let j = 0; j < width; j++) sum += data[row * width + j] ** 2;
    const std = scale * Math.sqrt(sum / width);
    if (std === 0) continue;
    for (let j = 0; j < width; j++) data[row * width + j] += std * rng.normal();
  }
  return out;
}
