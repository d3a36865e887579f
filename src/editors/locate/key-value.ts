/**
 * ROME's view of an MLP as a key–value memory, read and written at the
 * subject's last token: the key is the input of the MLP's output projection
 * there, averaged over the prompt's contexts; the value shift δ is what,
 * added to a block's MLP output at those rows, makes the model emit the new
 * target (v* = v + δ), found by gradient descent with ROME's KL term and
 * weight decay, and its norm clamped.
 */
import { lossOnHidden } from '../../models/batch.js';
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { kernels } from '../../tensor/backends/index.js';
import { add, scale } from '../../tensor/ops/arithmetic.js';
import { softCrossEntropy } from '../../tensor/ops/crossentropy.js';
import { rowWeightedSquares } from '../../tensor/ops/reduce.js';
import { addToRows, selectRows } from '../../tensor/ops/select.js';
import { softmax } from '../../tensor/ops/softmax.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { mlpOutputSite } from '../common/sites.js';
import { type StepReport, trainLoop } from '../common/train-loop.js';
import { frozenBlocks, rowCapture } from '../editor.js';
import type { ContextBatch, EssenceBatch } from './contexts.js';

/** The rows of x [rows, width], averaged per group (`groupOf[i]` of row i) into [groups, width]. */
export function averageByGroup(x: Tensor, groupOf: Int32Array, groups: number): Float32Array {
  const width = x.lastDim;
  const sums = new Float32Array(groups * width);
  const counts = new Int32Array(groups);
  for (let i = 0; i < groupOf.length; i++) {
    const g = groupOf[i];
    counts[g]++;
    for (let c = 0; c < width; c++) sums[g * width + c] += x.data[i * width + c];
  }
  for (let g = 0; g < groups; g++) for (let c = 0; c < width; c++) sums[g * width + c] /= Math.max(1, counts[g]);
  return sums;
}

/**
 * Per edit, block `block`'s MLP output-projection input (the key k) and
 * output (the value v = W k + b) at the subject's last token, averaged over
 * the edit's contexts: [edits, ffnWidth] and [edits, width].
 */
export function subjectKeys(model: DecoderLM, batch: ContextBatch, edits: number, block: number): { keys: Float32Array; values: Float32Array } {
  const { hooks, captured } = rowCapture(model.linearName(block, mlpOutputSite(model.config)), batch.subjectRows);
  frozenBlocks(model, batch.tokens, block + 1, hooks);
  return { keys: averageByGroup(captured.input!, batch.editOf, edits), values: averageByGroup(captured.output!, batch.editOf, edits) };
}

/** Per edit, the residual stream leaving block `block` at the subject's last token, averaged over its contexts: [edits, width]. */
export function subjectHidden(model: DecoderLM, batch: ContextBatch, edits: number, block: number): Float32Array {
  const hidden = frozenBlocks(model, batch.tokens, block + 1);
  return averageByGroup(selectRows(hidden, batch.subjectRows), batch.editOf, edits);
}

/** How the value shift is fitted (ROME's `v_*` settings). */
export interface ValueShiftOptions {
  /** Adam learning rate (ROME: 0.5). */
  lr: number;
  /** Steps at most (ROME: 20); it stops once the target's NLL is below 0.05. */
  iterations: number;
  /** Weight of KL(unedited ‖ edited) on "{subject} is a" (ROME: 0.0625). */
  klFactor: number;
  /** Weight of ‖δ‖² / ‖reference‖² (ROME: 0.5). */
  weightDecay: number;
  /** ‖δ‖ is kept ≤ this × ‖reference‖ (ROME: 4; MEMIT: 0.75). */
  clampFactor: number;
}

/** ROME stops fitting δ once the mean target NLL is below this. */
const SOLVED_NLL = 0.05;

/**
 * δ [edits, width], added to block `block`'s MLP output at every context's
 * subject row, that makes each edit's target likely. `referenceNorms` (one
 * per edit) scale the weight decay and the clamp: the norm of what δ is
 * added to (ROME: the MLP's value at the key; MEMIT: the residual stream).
 */
export function fitValueShift(
  model: DecoderLM,
  batch: ContextBatch,
  essence: EssenceBatch | null,
  edits: number,
  block: number,
  referenceNorms: Float32Array,
  options: ValueShiftOptions,
  onStep?: (report: StepReport) => void,
): { shift: Float32Array; iterations: number; loss: number } {
  const width = model.config.width;
  const layers = model.config.layers;
  const name = model.linearName(block, mlpOutputSite(model.config));
  const delta = Tensor.zeros([edits, width], true);
  const decay = Float32Array.from(referenceNorms, (norm) => options.weightDecay / (edits * Math.max(norm * norm, 1e-12)));
  const maxNorms = Float32Array.from(referenceNorms, (norm) => options.clampFactor * norm);
  const shifted = (rows: Int32Array, editOf: Int32Array): Map<string, LinearHook> =>
    new Map([[name, (_input, output) => addToRows(output, rows, delta, editOf)]]);

  const prefix = frozenBlocks(model, batch.tokens, block);
  const essencePrefix = essence === null ? null : frozenBlocks(model, essence.tokens, block);
  // The unedited model's next-token distribution after each "{subject} is a".
  const essenceProbs = essence === null ? null : noGrad(() => distributionAt(model, essence, essencePrefix!, block, new Map()));

  const result = trainLoop(
    [delta],
    { lr: options.lr, iterations: options.iterations, earlyStop: true },
    () => {
      clampRows(delta.data, width, maxNorms);
      const hidden = model.finalNorm(model.runBlocks(prefix, block, layers, { hooks: shifted(batch.subjectRows, batch.editOf) }));
      const nll = lossOnHidden(model, hidden, batch.targets).loss;
      const nllValue = nll.item();
      let loss = add(nll, rowWeightedSquares(delta, decay));
      let kl = 0;
      if (essence !== null && options.klFactor > 0) {
        const logits = logitsAt(model, essence, essencePrefix!, block, shifted(essence.subjectRows, essence.editOf));
        const divergence = softCrossEntropy(logits, essenceProbs!);
        kl = divergence.item();
        loss = add(loss, scale(divergence, options.klFactor));
      }
      return { loss, solved: () => nllValue < SOLVED_NLL, parts: { nll: nllValue, kl } };
    },
    onStep,
    'the value shift',
  );
  clampRows(delta.data, width, maxNorms);
  return { shift: delta.data.slice(), ...result };
}

function logitsAt(model: DecoderLM, essence: EssenceBatch, prefix: Tensor, block: number, hooks: Map<string, LinearHook>): Tensor {
  const hidden = model.finalNorm(model.runBlocks(prefix, block, model.config.layers, { hooks }));
  return model.lmHead(selectRows(hidden, essence.queryRows));
}

function distributionAt(model: DecoderLM, essence: EssenceBatch, prefix: Tensor, block: number, hooks: Map<string, LinearHook>): Float32Array {
  return softmax(logitsAt(model, essence, prefix, block, hooks)).data;
}

/** Scales each row of `data` [rows, width] down to at most its `maxNorms` entry. */
function clampRows(data: Float32Array, width: number, maxNorms: Float32Array): void {
  for (let r = 0; r < maxNorms.length; r++) {
    const norm = Math.sqrt(kernels.sumSquares(data.subarray(r * width, (r + 1) * width), width));
    if (norm > maxNorms[r]) for (let c = 0; c < width; c++) data[r * width + c] *= maxNorms[r] / norm;
  }
}
