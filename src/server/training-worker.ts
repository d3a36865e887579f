/**
 * The training thread of `elder serve`. ELDER's batch training is synchronous
 * and takes seconds to minutes; run on the main thread it would stall every
 * request. This worker builds the model over the main thread's shared weights
 * (no copy), and per job restores an editor from the committed snapshot it is
 * sent and trains the batch. It never touches the state folder: the main
 * thread commits what it returns.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ElderConfig } from '../editors/elder/config.js';
import { ElderEditor } from '../editors/elder/editor.js';
import type { EditMemory } from '../editors/elder/frozen.js';
import { MixtureOfLora } from '../editors/elder/mixture.js';
import { modelFromSharedWeights, type SharedWeights } from '../models/load.js';
import { BufferPool } from '../tensor/buffers.js';
import type { ThreadMemory, TrainJob, WorkerMessage } from './trainer.js';

const { weights, config } = workerData as { weights: SharedWeights; config: ElderConfig };
const model = modelFromSharedWeights(weights);
model.setRequiresGrad(false);
/** One mixture and one pool of activation buffers for every job: a pool per job left ~100 MB of garbage per batch, and resident memory swung with it. */
const mixture = new MixtureOfLora(config.core, model);
const scratch = new BufferPool();
/** Frozen passes of live edits, kept across jobs: they depend on the base model and the tokens alone. */
const frozenCache = new Map<string, EditMemory>();

/** This thread's heap and buffers (`rss` is the whole process's, so it is left to the main thread). */
function threadMemory(): ThreadMemory {
  const { heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { heapUsed, heapTotal, external, arrayBuffers };
}

function post(message: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

parentPort!.on('message', (job: TrainJob) => {
  try {
    // A fresh editor per job: its allocations, codes and memory are exactly the committed ones.
    const editor = ElderEditor.restore(model, config, job.snapshot, { mixture, scratch, frozenCache });
    // Retracted edits are no longer live: their frozen passes go, or the cache would only grow.
    const live = new Set(job.snapshot.memory.map((m) => m.id));
    for (const id of frozenCache.keys()) if (!live.has(id)) frozenCache.delete(id);
    const result = editor.train(job.edits, (report) => post({ type: 'progress', job: job.job, ...report }));
    const trained = [...editor.snapshot().weights].map(
      ([name, t]) => [name, { data: t.data, shape: [...t.shape] }] as [string, { data: Float32Array; shape: number[] }],
    );
    post(
      {
        type: 'trained',
        job: job.job,
        iterations: result.iterations,
        loss: result.loss,
        codes: result.codes,
        weights: trained,
        allocations: [...result.allocations],
        memory: threadMemory(),
      },
      trained.map(([, t]) => t.data.buffer as ArrayBuffer),
    );
  } catch (error) {
    post({ type: 'failed', job: job.job, name: (error as Error).name, message: (error as Error).message, memory: threadMemory() });
  }
});
post({ type: 'ready', memory: threadMemory() });
