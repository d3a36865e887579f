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
import { generate } from '../src/models/generate.js';
import { loadModel } from '../src/models/load.js';
import { canMap, SafetensorsFile, writeSafetensors } from '../src/models/safetensors.js';
import { materializedElements } from '../src/tensor/half.js';
import { selectRows } from '../src/tensor/ops/select.js';
import { backward, noGrad } from '../src/tensor/tensor.js';
import { maxAbsDiff, maxRelativeToScale, repoRoot, sharedDir } from './helpers.js';

/** The families' fixtures: random weights stored as each family ships, with PyTorch references computed in float32 from the stored values. */
const FAMILIES = [
  { name: 'tiny-qwen2', what: 'Qwen2: q/k/v biases, tied head, BF16' },
  { name: 'tiny-llama3', what: 'Llama 3: llama3 RoPE scaling, tied head, F16' },
  { name: 'tiny-qwen3', what: 'Qwen3: per-head q/k norms, head_dim from the config, BF16' },
  { name: 'tiny-phi3', what: 'Phi-3: fused qkv_proj and gate_up_proj, partial rotary, untied head, F32' },
  { name: 'tiny-gemma3', what: 'Gemma 3: (1 + w) norms, four per block, scaled embeddings, q/k norms, sliding and full blocks, GeGLU, BF16' },
];

for (const family of FAMILIES) {
  const dir = path.join(sharedDir, 'fixtures', family.name);
  test(`${family.what}: logits, loss and gradients match PyTorch within 1e-4, computed from the weights as stored`, () => {
    const reference = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as {
      ids: number[][];
      target_mask: number[][];
      loss: number;
      stored_dtype: string;
    };
    const { model, storedDtypes } = loadModel(dir);
    assert.deepEqual(storedDtypes, [reference.stored_dtype]);
    // Without the native addon (ELDER_BACKEND=js) weights are read into float32 instead.
    const halfStored = reference.stored_dtype !== 'F32' && canMap();
    assert.ok(
      [...model.parameters.values()].filter((t) => t.rank === 2).every((t) => (t.half !== null) === halfStored),
      'matrices are kept as stored',
    );
    const before = materializedElements();
    const [batch, steps] = [reference.ids.length, reference.ids[0].length];
    const ids = Int32Array.from(reference.ids.flat());
    const bytes = fs.readFileSync(path.join(dir, 'reference-logits.bin'));
    const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const logits = noGrad(() => model.forward(ids, batch, steps)).data;
    assert.ok(maxAbsDiff(logits, expected) < 1e-4, `logits: max |Δ| ${maxAbsDiff(logits, expected)}`);

    const grads = SafetensorsFile.open(path.join(dir, 'reference-grads.safetensors'));
    const names = [...grads.entries.keys()];
    for (const name of names) model.parameters.get(name)!.requiresGrad = true;
    const { loss } = lmLoss(model, { ids, batch, steps }, reference.target_mask.flat());
    assert.ok(Math.abs(loss.item() - reference.loss) < 1e-4 * reference.loss, `loss ${loss.item()} against ${reference.loss}`);
    backward(loss);
    for (const name of names) {
      const error = maxRelativeToScale(model.parameters.get(name)!.grad!, grads.read(name).data);
      assert.ok(error < 1e-4, `${name}: ${error}`);
    }
    grads.close();
    assert.equal(materializedElements(), before, 'no stored weight was copied to float32');
  });

  test(`${family.what}: decoding with the KV cache equals the full forward at every step`, () => {
    const { model } = loadModel(dir);
    const prompt = [5, 77, 300, 12];
    const { ids } = generate(model, prompt, { maxTokens: 12, stopIds: [] });
    const all = Int32Array.from([...prompt, ...ids]);
    const hidden = noGrad(() => model.hiddenStates(all, 1, all.length));
    for (let step = 0; step < ids.length; step++) {
      const row = prompt.length - 1 + step;
      const logits = noGrad(() => model.lmHead(selectRows(hidden, [row]))).data;
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
      assert.equal(ids[step], best, `step ${step}`);
    }
  });
}

test('rope_scaling: linear and llama3 are computed, the rest refused by name', () => {
  const base = {
    model_type: 'llama',
    vocab_size: 10,
    hidden_size: 8,
    intermediate_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    max_position_embeddings: 16,
  };
  assert.deepEqual(parseConfig({ ...base, rope_scaling: { rope_type: 'linear', factor: 2 } }, 'c').ropeScaling, { type: 'linear', factor: 2 });
  assert.equal(parseConfig({ ...base, rope_scaling: { type: 'default' } }, 'c').ropeScaling, null);
  for (const type of ['dynamic', 'yarn', 'longrope'])
    assert.throws(
      () => parseConfig({ ...base, rope_scaling: { rope_type: type, factor: 2 } }, 'c'),
      new RegExp(`^UnsupportedError: c: rope_scaling type "${type}" is not supported \\(supported: linear, llama3\\)$`),
    );
  assert.throws(() => parseConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'c'), /low_freq_factor/);
});

test('a family config whose head_dim, head counts or intermediate_size disagree with the tensors is refused in one line naming the tensor and both shapes', () => {
  const cases: Array<{ family: string; change: Record<string, number>; tensor: RegExp }> = [
    {
      family: 'tiny-qwen3',
      change: { head_dim: 16 },
      tensor: /tensor "model\.layers\.0\.self_attn\.q_proj\.weight" has shape \[128, 64\], the config implies \[64, 64\]$/,
    },
    {
      family: 'tiny-qwen2',
      change: { num_key_value_heads: 1 },
      tensor: /tensor "model\.layers\.0\.self_attn\.k_proj\.(weight|bias)" has shape \[\d+(, 64)?\], the config implies \[\d+(, 64)?\]$/,
    },
    {
      family: 'tiny-phi3',
      change: { intermediate_size: 100 },
      tensor: /tensor "model\.layers\.0\.mlp\.gate_up_proj\.weight" has shape \[\d+, 64\], the config implies \[200, 64\]$/,
    },
    {
      family: 'tiny-gemma3',
      change: { intermediate_size: 100 },
      tensor: /tensor "model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight" has shape \[\d+, \d+\], the config implies \[\d+, \d+\]$/,
    },
  ];
  for (const { family, change, tensor } of cases) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `elder-${family}-shape-`));
    try {
      fs.cpSync(path.join(sharedDir, 'fixtures', family), dir, { recursive: true });
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, ...change }));
      assert.throws(
        () => loadModel(dir),
        (e: Error) => e.name === 'CheckpointError' && !e.message.includes('\n') && tensor.test(e.message),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('ELDER edits a model of every family: one batch lowers its loss by more than a quarter through the family’s own blocks', () => {
  for (const family of FAMILIES) {
    const { model } = loadModel(path.join(sharedDir, 'fixtures', family.name));
    const { editor } = createEditor('elder', model, { elder: { iterations: 30 } });
    const edits: TokenizedEdit[] = [{ id: 'a', label: 'a', prompt: '', target: '', promptIds: [10, 20, 30, 40], targetIds: [500, 600] }];
    const losses: number[] = [];
    editor.applyBatch(edits, ({ loss }) => losses.push(loss));
    assert.ok(losses.length > 1 && losses.every(Number.isFinite), `${family.name}: ${losses}`);
    assert.ok(losses[losses.length - 1] < 0.75 * losses[0], `${family.name}: loss ${losses[0]} → ${losses[losses.length - 1]}`);
  }
});

test('end-of-text ids: config.json may list several and generation_config.json adds its own; generation stops at any of them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-eos-'));
  try {
    fs.cpSync(path.join(sharedDir, 'fixtures', 'tiny-qwen2'), dir, { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, eos_token_id: [2, 3] }));
    const { model } = loadModel(dir);
    const prompt = [5, 77, 300, 12];
    const free = generate(model, prompt, { maxTokens: 8, stopIds: [] }).ids;
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [free[2]] }));
    const reloaded = loadModel(dir).model;
    assert.deepEqual(
      reloaded.config.eosTokenIds,
      [2, 3, free[2]].filter((id, i, all) => all.indexOf(id) === i),
    );
    const stopped = generate(reloaded, prompt, { maxTokens: 8 });
    assert.equal(stopped.stoppedBy, 'eos');
    assert.ok(stopped.ids.length <= 3 && reloaded.config.eosTokenIds.includes(stopped.ids[stopped.ids.length - 1]));
    fs.writeFileSync(path.join(dir, 'generation_config.json'), '{"eos_token_id": ');
    assert.throws(() => loadModel(dir), /generation_config\.json: not valid JSON/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a multimodal Gemma 3 loads its language model text-only (one line says so) and computes as the text checkpoint; soft-capping is refused by name', () => {
  const source = path.join(sharedDir, 'fixtures', 'tiny-gemma3');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-gemma3-'));
  try {
    const text = JSON.parse(fs.readFileSync(path.join(source, 'config.json'), 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ model_type: 'gemma3', architectures: ['Gemma3ForConditionalGeneration'], text_config: text, vision_config: { hidden_size: 8 } }),
    );
    const file = SafetensorsFile.open(path.join(source, 'model.safetensors'));
    const tensors = new Map([...file.entries.keys()].map((name) => [`language_model.${name}`, file.read(name)]));
    tensors.set('vision_tower.patch_embedding.weight', { data: new Float32Array(16), shape: [4, 4], dtype: 'BF16' });
    file.close();
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { dtype: 'BF16' });
    const ids = Int32Array.from([5, 77, 300, 12, 9, 41]);
    const run = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { loadModel } = await import(${JSON.stringify(path.join(repoRoot, 'dist', 'src', 'models', 'load.js'))}); loadModel(${JSON.stringify(dir)});`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /a multimodal Gemma 3; its language model is loaded text-only and the vision tower is ignored/);
    const multimodal = noGrad(() => loadModel(dir).model.forward(ids, 1, ids.length)).data;
    const textOnly = noGrad(() => loadModel(source).model.forward(ids, 1, ids.length)).data;
    assert.deepEqual(multimodal, textOnly);
    for (const key of ['final_logit_softcapping', 'attn_logit_softcapping'])
      assert.throws(() => parseConfig({ ...text, [key]: 30 }, 'c'), new RegExp(`^UnsupportedError: c: ${key} "30" is not supported \\(no soft-capping\\)$`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
