/**
 * `npm run bench`: kernel and model throughput on this machine, each row a
 * median over repeats, each ratio against a baseline run in the same process.
 *   sgemm      GFLOP/s for GPT-2 shapes on every available backend
 *   kernels    native vs TypeScript elementwise/row kernels
 *   gpt2-small forward tokens/s, decode tokens/s, one training step
 *   pretrain   pretraining tokens/s of elder-facts' shape, with and without buffer reuse
 *   serve      the HTTP service on the default model (elder-facts): completion latency idle and while training
 * `npm run bench -- --quick` runs fewer repeats.
 */

import { lossOnHidden, targetRows } from '../src/models/batch.js';
import { parseConfig } from '../src/models/config.js';
import { generate } from '../src/models/generate.js';
import { randomModel } from '../src/models/load.js';
import { kernels as activeKernels, availableKernels, jsKernels, type Kernels, useKernels } from '../src/tensor/backends/index.js';
import { backward, noGrad, Tensor } from '../src/tensor/tensor.js';
import { Random } from '../src/util/random.js';
import { elderTables } from './elder.js';
import { halfTable } from './half.js';
import { machineLine, medianSeconds, printTable } from './harness.js';
import { pretrainTable } from './pretrain.js';
import { scaleTable } from './scale.js';
import { serveTable } from './serve.js';

const quick = process.argv.includes('--quick');
const budget = quick ? 0.5 : 2;
const rng = new Random(1);
const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

console.log(`# elder benchmarks\n\n${machineLine()}${quick ? ' (quick)' : ''}`);

const native = availableKernels().filter((k) => k !== jsKernels);
const all: Kernels[] = [...native].reverse().concat(jsKernels); // openblas, portable, js

function sgemmTable(): void {
  const shapes: Array<[number, number, number]> = [
    [80, 768, 3072],
    [80, 3072, 768],
    [512, 768, 3072],
  ];
  const rows = shapes.map(([M, K, N]) => {
    const A = rand(M * K);
    const B = rand(K * N);
    const C = new Float32Array(M * N);
    const flops = 2 * M * N * K;
    const rates = all.map((k) => {
      const runs = k === jsKernels ? { minRuns: 1, maxRuns: 3, budgetSeconds: budget, warmup: false } : { budgetSeconds: budget };
      return flops / medianSeconds(() => k.sgemm(false, false, M, N, K, 1, A, 0, K, B, 0, N, 0, C, 0, N), runs) / 1e9;
    });
    const js = rates[rates.length - 1];
    return [`(${M}, ${K}, ${N})`, ...rates.map((r) => r.toFixed(1)), ...rates.slice(0, -1).map((r) => `${(r / js).toFixed(0)}×`)];
  });
  printTable('sgemm GFLOP/s, C[M,N] = A[M,K]·B[K,N], median', ['(M, K, N)', ...all.map((k) => k.name), ...all.slice(0, -1).map((k) => `${k.name} / js`)], rows);
}

function elementwiseTable(): void {
  const kernel = native[0];
  if (kernel === undefined) return;
  const n = 80 * 3072;
  const x = rand(n);
  const y = new Float32Array(n);
  const vocabRows = 80;
  const vocab = 50257;
  const logits = rand(vocabRows * vocab);
  const targets = Int32Array.from({ length: vocabRows }, (_, i) => i * 17);
  const losses = new Float32Array(vocabRows);
  const lse = new Float32Array(vocabRows);
  const ln = rand(80 * 768);
  const lnOut = new Float32Array(80 * 768);
  const gamma = rand(768);
  const stats = [new Float32Array(80), new Float32Array(80)];
  const cases: Array<[string, (k: Kernels) => void]> = [
    ['GELU forward, 80×3072', (k) => k.geluForward(x, y, n)],
    ['GELU backward, 80×3072', (k) => k.geluBackward(x, x, y, n)],
    ['cross-entropy, 80×50257', (k) => k.crossEntropyForward(logits, targets, losses, lse, vocabRows, vocab)],
    ['layer norm, 80×768', (k) => k.layerNormForward(ln, gamma, gamma, lnOut, stats[0], stats[1], 80, 768, 1e-5)],
  ];
  const rows = cases.map(([name, run]) => {
    const nativeMs = medianSeconds(() => run(kernel), { budgetSeconds: budget }) * 1e3;
    const jsMs = medianSeconds(() => run(jsKernels), { budgetSeconds: budget }) * 1e3;
    return [name, jsMs.toFixed(3), nativeMs.toFixed(3), `${(jsMs / nativeMs).toFixed(1)}×`];
  });
  printTable('row and elementwise kernels, ms, median', ['kernel', 'TypeScript', 'native C', 'speed-up'], rows);
}

function gpt2SmallConfig() {
  return parseConfig(
    { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, eos_token_id: 50256, bos_token_id: 50256 },
    'gpt2-small',
  );
}

function modelTable(): void {
  const config = gpt2SmallConfig();
  const model = randomModel(config, 0);
  const batch = 4;
  const steps = 20;
  const ids = Int32Array.from({ length: batch * steps }, () => rng.int(config.vocabSize));
  const mask = Array.from({ length: batch * steps }, (_, i) => (i % steps === 0 ? 0 : 1));
  const targets = targetRows({ ids, batch, steps }, mask);
  const firstTrained = 6;

  const measure = (): Array<string> => {
    const forward = medianSeconds(() => noGrad(() => model.forward(ids, batch, steps)), { budgetSeconds: budget });
    // Decode speed: the difference between generating 33 and 1 tokens after the same 20-token prompt.
    const decodeTokens = 32;
    const prompt = Array.from(ids.subarray(0, steps));
    const prefillOnly = medianSeconds(() => generate(model, prompt, { maxTokens: 1, stopIds: [] }), { budgetSeconds: budget });
    const decode =
      medianSeconds(() => generate(model, prompt, { maxTokens: decodeTokens + 1, stopIds: [] }), { minRuns: 1, budgetSeconds: budget }) - prefillOnly;
    // The frozen prefix is computed once; the step runs blocks 6–11, the head on target rows, and the backward to block 6's input.
    const prefix = noGrad(() => model.runBlocks(model.embed(ids, batch, steps, 0), 0, firstTrained));
    const train = medianSeconds(
      () => {
        const input = new Tensor(prefix.data, prefix.shape, true);
        const hidden = model.finalNorm(model.runBlocks(input, firstTrained, config.layers));
        backward(lossOnHidden(model, hidden, targets).loss);
      },
      { budgetSeconds: budget },
    );
    return [((batch * steps) / forward).toFixed(0), (forward * 1e3).toFixed(1), (decodeTokens / decode).toFixed(1), (train * 1e3).toFixed(1)];
  };

  const rows: string[][] = [];
  const original = activeKernels;
  for (const k of native.slice().reverse()) {
    useKernels(k);
    rows.push([k.name, ...measure()]);
  }
  useKernels(original);
  printTable(
    `GPT-2 small shape (12 layers, width 768, vocab 50257, ${(model.parameterCount() / 1e6).toFixed(0)}M parameters, random weights), batch ${batch} × ${steps} tokens, median`,
    [
      'backend',
      'forward tokens/s',
      'forward ms',
      'decode tokens/s (KV cache)',
      `train step ms (blocks ${firstTrained}–11 + head, backward to block ${firstTrained} input)`,
    ],
    rows,
  );
}

const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
if (!only || only === 'kernels') {
  sgemmTable();
  elementwiseTable();
  halfTable(budget);
}
if (!only || only === 'model') modelTable();
if (!only || only === 'pretrain') pretrainTable(quick);
if (!only || only === 'elder') elderTables(randomModel(gpt2SmallConfig(), 0), quick);
if (!only || only === 'serve') await serveTable(quick);
// The real shapes write gigabytes of checkpoints and take minutes: asked for by name only.
if (only === 'scale') scaleTable({ iterations: 3, tokens: 16, anchors: process.argv.includes('--anchors'), repeat: quick ? 1 : 3 });
