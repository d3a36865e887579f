import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { TokenizedEdit } from '../src/editors/edit.js';
import { createEditor } from '../src/editors/registry.js';
import { lmLoss } from '../src/models/batch.js';
import { parseConfig } from '../src/models/config.js';
import { weightsFingerprint } from '../src/models/fingerprint.js';
import { generate } from '../src/models/generate.js';
import { loadModel, modelFromSharedWeights, randomModel, saveModel, sharedWeights } from '../src/models/load.js';
import { checkFits, estimateMemory, parseBytes } from '../src/models/memory.js';
import { availableKernels } from '../src/tensor/backends/index.js';
import { decodeHalf, materializedElements } from '../src/tensor/half.js';
import { backward, noGrad } from '../src/tensor/tensor.js';
import { ResourceError } from '../src/util/errors.js';
import { Random } from '../src/util/random.js';
import { maxRelativeToScale, repoRoot } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-half-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** A LLaMA with six blocks (ELDER's default blocks fit), GQA and an untied head. */
const config = parseConfig(
  {
    model_type: 'llama',
    vocab_size: 96,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 6,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
  },
  'inline',
);

/**
 * The same weights twice: kept as stored in `dtype`, and as float32 written
 * from the same stored values (so the two differ only in how they compute).
 */
function pair(dtype: 'F16' | 'BF16'): { halfDir: string; f32Dir: string } {
  const halfDir = path.join(tmp, `${dtype}-half`);
  const f32Dir = path.join(tmp, `${dtype}-f32`);
  if (!fs.existsSync(halfDir)) {
    saveModel(halfDir, randomModel(config, 11, 0.3), { dtype });
    saveModel(f32Dir, loadModel(halfDir).model, { dtype: 'F32' });
  }
  return { halfDir, f32Dir };
}

const ids = Int32Array.from([3, 17, 40, 8, 95, 21, 5, 60, 33, 12]);

test('half-precision products match float32 ones on the same values, for every backend, both layouts and few or many rows', () => {
  const rng = new Random(5);
  for (const kernels of availableKernels()) {
    for (const dtype of [1, 2] as const) {
      for (const transB of [false, true]) {
        for (const M of [1, 3, 8, 9, 40]) {
          const [N, K] = [70, 530];
          const bits = Uint16Array.from({ length: N * K }, () => (dtype === 1 ? 0x3000 + rng.int(0x1800) : 0x3c00 + rng.int(0x800)) | (rng.int(2) << 15));
          const values = new Float32Array(N * K);
          decodeHalf(bits, dtype === 1 ? 'F16' : 'BF16', 0, N * K, values);
          const A = Float32Array.from({ length: M * K }, () => rng.normal());
          const start = Float32Array.from({ length: M * N }, () => rng.normal());
          for (const beta of [0, 1]) {
            const expected = start.slice();
            const actual = start.slice();
            kernels.sgemm(false, transB, M, N, K, 1, A, 0, K, values, 0, transB ? K : N, beta, expected, 0, N);
            kernels.sgemmHalfB(transB, M, N, K, A, 0, K, bits, 0, transB ? K : N, dtype, beta, actual, 0, N);
            const error = maxRelativeToScale(actual, expected);
            assert.ok(error < 1e-5, `${kernels.name} dtype ${dtype} transB ${transB} M ${M} beta ${beta}: ${error}`);
          }
        }
      }
    }
  }
});

test('F16 and BF16 checkpoints load as stored: forward, loss gradients and generation match the float32 path without upcasting a weight', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    const { halfDir, f32Dir } = pair(dtype);
    const half = loadModel(halfDir).model;
    const full = loadModel(f32Dir).model;
    const matrices = [...half.parameters.values()].filter((t) => t.rank === 2);
    assert.ok(
      matrices.every((t) => t.half?.dtype === dtype),
      'every matrix is kept as stored',
    );
    assert.ok(
      [...full.parameters.values()].every((t) => t.half === null),
      'a float32 checkpoint computes in float32',
    );
    const before = materializedElements();

    const logits = noGrad(() => half.forward(ids, 2, 5)).data;
    const reference = noGrad(() => full.forward(ids, 2, 5)).data;
    assert.ok(maxRelativeToScale(logits, reference) < 1e-5, `${dtype} logits: ${maxRelativeToScale(logits, reference)}`);

    // Gradients flow through the frozen half-precision linears (dX = dY·W) to a float32 weight below them.
    const batch = { ids, batch: 2, steps: 5 };
    const mask = [0, 0, 1, 1, 1, 0, 1, 1, 1, 1];
    const grads = [half, full].map((model) => {
      const norm = model.parameters.get('model.layers.1.input_layernorm.weight')!;
      norm.requiresGrad = true;
      const { loss } = lmLoss(model, batch, mask);
      backward(loss);
      norm.requiresGrad = false;
      return { loss: loss.item(), grad: norm.grad! };
    });
    assert.ok(Math.abs(grads[0].loss - grads[1].loss) < 1e-5 * grads[1].loss, `${dtype} loss`);
    assert.ok(maxRelativeToScale(grads[0].grad, grads[1].grad) < 1e-4, `${dtype} gradient: ${maxRelativeToScale(grads[0].grad, grads[1].grad)}`);

    const prompt = [5, 9, 13];
    assert.deepEqual(generate(half, prompt, { maxTokens: 6 }).ids, generate(full, prompt, { maxTokens: 6 }).ids);
    assert.equal(materializedElements(), before, 'no weight was copied to float32');
    assert.equal(weightsFingerprint(half), weightsFingerprint(full), 'a weight hashes by its values however it is held');
  }
});

test('one ELDER batch on half-precision weights trains as on float32 ones, and upcasts no weight', () => {
  const { halfDir, f32Dir } = pair('BF16');
  const edits: TokenizedEdit[] = [
    { id: 'a', label: 'a', prompt: '', target: '', promptIds: [4, 8, 15, 16], targetIds: [23, 42] },
    { id: 'b', label: 'b', prompt: '', target: '', promptIds: [7, 7, 31], targetIds: [50] },
  ];
  const before = materializedElements();
  const results = [halfDir, f32Dir].map((dir) => {
    const { model } = loadModel(dir);
    const { editor } = createEditor('elder', model, { elder: { iterations: 4 } });
    const { loss } = editor.applyBatch(edits);
    return loss;
  });
  assert.ok(Math.abs(results[0] - results[1]) < 1e-4 * Math.max(1, Math.abs(results[1])), `losses ${results[0]} and ${results[1]}`);
  assert.equal(materializedElements(), before, 'no base weight was copied to float32');
});

test('a weight written by an editor becomes a private float32 copy; the mapped file is never written', () => {
  const { halfDir } = pair('F16');
  const file = path.join(halfDir, 'model.safetensors');
  const bytesBefore = fs.readFileSync(file);
  const { model } = loadModel(halfDir);
  const weight = model.parameters.get('model.layers.2.mlp.down_proj.weight')!;
  const stored = weight.half!.bits.slice();
  const values = weight.data;
  assert.equal(weight.half, null);
  const expected = new Float32Array(stored.length);
  decodeHalf(stored, 'F16', 0, stored.length, expected);
  assert.deepEqual(values, expected, 'the copy holds the stored values exactly');
  values.fill(0.5);
  assert.deepEqual(fs.readFileSync(file), bytesBefore);

  // An F32 checkpoint is used in place, copy-on-write: a write stays in this process.
  const f32Dir = pair('F16').f32Dir;
  const f32File = path.join(f32Dir, 'model.safetensors');
  const f32Before = fs.readFileSync(f32File);
  const f32 = loadModel(f32Dir).model;
  f32.parameters.get('model.layers.0.self_attn.q_proj.weight')!.data.fill(3);
  assert.deepEqual(fs.readFileSync(f32File), f32Before);
  assert.notEqual(loadModel(f32Dir).model.parameters.get('model.layers.0.self_attn.q_proj.weight')!.data[0], 3, 'another load sees the file');
});

test('a worker-thread model built from shared weights maps the same file ranges and computes the same logits', () => {
  const { halfDir } = pair('BF16');
  const { model } = loadModel(halfDir, { sharedMemory: true });
  const shared = sharedWeights(model);
  const mapped = [...shared.tensors.values()].filter((t) => 'mapped' in t).length;
  assert.equal(mapped, [...model.parameters.values()].filter((t) => t.rank === 2).length, 'every matrix travels as a file range');
  const rebuilt = modelFromSharedWeights(structuredClone(shared));
  assert.deepEqual(noGrad(() => rebuilt.forward(ids, 1, 10)).data, noGrad(() => model.forward(ids, 1, 10)).data);
});

test('a checkpoint that does not fit in the memory available is refused before anything is mapped, with the estimate', () => {
  const { halfDir } = pair('BF16');
  const estimate = estimateMemory([{ dtype: 'BF16', shape: [32000, 4096] }], true);
  assert.equal(estimate.weights, 32000 * 4096 * 2);
  assert.throws(
    () => checkFits('big', estimate, 2 ** 20),
    /^ResourceError: big: the model needs about 0\.6 GiB \(0\.2 GiB of weights as held, 0\.4 GiB working memory\), but 0\.0 GiB is available$/,
  );
  assert.equal(parseBytes('12G'), 12 * 2 ** 30);
  assert.equal(parseBytes('512MiB'), 512 * 2 ** 20);
  assert.throws(() => parseBytes('lots'), ResourceError);
  const previous = process.env.ELDER_MEMORY_LIMIT;
  process.env.ELDER_MEMORY_LIMIT = '1M';
  try {
    assert.throws(() => loadModel(halfDir), /the model needs about .* GiB .* is available/);
  } finally {
    if (previous === undefined) delete process.env.ELDER_MEMORY_LIMIT;
    else process.env.ELDER_MEMORY_LIMIT = previous;
  }
});

test('non-finite values in a half-precision matrix and a file shorter than its header are refused, naming the tensor or file', () => {
  const { halfDir } = pair('BF16');
  const bad = path.join(tmp, 'bad-nan');
  fs.cpSync(halfDir, bad, { recursive: true });
  const file = path.join(bad, 'model.safetensors');
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { data_offsets: number[] }>;
  const [begin] = header['model.layers.3.mlp.up_proj.weight'].data_offsets;
  bytes.writeUInt16LE(0x7fc0, 8 + headerLength + begin + 2 * 7); // a BF16 NaN at element 7
  fs.writeFileSync(file, bytes);
  assert.throws(() => loadModel(bad), /model\.safetensors: tensor "model\.layers\.3\.mlp\.up_proj\.weight" holds a non-finite value at element 7/);

  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 100));
  assert.throws(() => loadModel(bad), /model\.safetensors: truncated: tensor .* ends at byte \d+, file has \d+/);
});

test('ELDER_SIMD=x86-64-v3 loads the AVX2 build: its kernels run without AVX-512 and compute the same products', () => {
  const script = `
    import { backendInfo, kernels } from ${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'tensor', 'backends', 'index.js'))};
    const [N, K] = [40, 300];
    const bits = Uint16Array.from({ length: N * K }, (_, i) => 0x3c00 + ((i * 37) % 1000));
    const values = new Float32Array(N * K);
    kernels.halfToFloat(bits, 0, 2, values, N * K);
    const A = Float32Array.from({ length: K }, (_, i) => Math.sin(i));
    const [expected, actual] = [new Float32Array(N), new Float32Array(N)];
    kernels.sgemm(false, true, 1, N, K, 1, A, 0, K, values, 0, K, 0, expected, 0, N);
    kernels.sgemmHalfB(true, 1, N, K, A, 0, K, bits, 0, K, 2, 0, actual, 0, N);
    const error = Math.max(...expected.map((e, i) => Math.abs(e - actual[i]))) / Math.max(...expected.map(Math.abs));
    console.log(JSON.stringify({ simd: backendInfo().simd, error, coretype: process.env.OPENBLAS_CORETYPE }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ELDER_SIMD: 'x86-64-v3' } });
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as { simd: string; error: number; coretype: string };
  assert.doesNotMatch(result.simd, /AVX-512/);
  assert.equal(result.coretype, 'Haswell');
  assert.ok(result.error < 1e-5, `error ${result.error}`);
  const bad = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ELDER_SIMD: 'avx9000' } });
  assert.match(bad.stderr, /ELDER_SIMD must be x86-64-v3 or x86-64-v4, got "avx9000"/);
});
