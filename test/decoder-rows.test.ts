import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/models/config.js';
import type { DecoderLM, LinearHook } from '../src/models/decoder.js';
import { randomModel } from '../src/models/load.js';
import { add, scale } from '../src/tensor/ops/arithmetic.js';
import { selectRows } from '../src/tensor/ops/select.js';
import { backward, type Tensor } from '../src/tensor/tensor.js';
import { Random } from '../src/util/random.js';
import { maxAbsDiff, randomTensor, smallLlama } from './helpers.js';

const gpt2 = parseConfig(
  { model_type: 'gpt2', vocab_size: 40, n_positions: 16, n_embd: 16, n_layer: 3, n_head: 4, eos_token_id: 0, bos_token_id: 0 },
  'inline',
);
const llama = { ...smallLlama, vocabSize: 40, layers: 3 };

/** The final-norm states at `rows` and the gradient of their sum of squares with respect to the input hidden state. */
function atRows(model: DecoderLM, hidden: Tensor, rows: Int32Array, restricted: boolean, hooks?: Map<string, LinearHook>) {
  hidden.grad = null;
  const out = restricted
    ? model.hiddenAtRows(hidden, 1, rows, { hooks })
    : selectRows(model.finalNorm(model.runBlocks(hidden, 1, model.config.layers, { hooks })), rows);
  backward(
    out,
    Float32Array.from(out.data, (v) => 2 * v),
  );
  return { values: out.data.slice(), grad: hidden.grad!.slice() };
}

for (const [name, config] of [
  ['gpt2', gpt2],
  ['llama', llama],
] as const) {
  test(`${name}: the top block at a few rows gives those rows' states and gradients, hooked or not`, () => {
    const model = randomModel(config, 11, 0.3);
    model.setRequiresGrad(false);
    const hidden = randomTensor([3, 7, 16], new Random(2), 1, true);
    // Target rows as an edit batch has them: the last few positions of each sequence, not in order.
    const rows = Int32Array.from([5, 6, 12, 13, 20, 19]);
    const full = atRows(model, hidden, rows, false);
    const restricted = atRows(model, hidden, rows, true);
    assert.equal(restricted.values.length, rows.length * 16);
    assert.ok(maxAbsDiff(restricted.values, full.values) < 1e-5);
    assert.ok(maxAbsDiff(restricted.grad, full.grad) < 1e-5);
    // A hook on the top block's MLP sees the whole batch, as without rows.
    const top = model.config.layers - 1;
    const seen: number[] = [];
    const hooks = new Map<string, LinearHook>([
      [
        model.linearName(top, model.blockLinears.at(-1)!),
        (input, output) => {
          seen.push(input.rows);
          return scale(output, 0.5);
        },
      ],
    ]);
    const hookedFull = atRows(model, hidden, rows, false, hooks);
    const hookedRestricted = atRows(model, hidden, rows, true, hooks);
    assert.deepEqual(seen, [21, 21]);
    assert.ok(maxAbsDiff(hookedRestricted.values, hookedFull.values) < 1e-6);
    assert.ok(maxAbsDiff(hookedRestricted.values, full.values) > 1e-3);
  });
}

for (const [name, config, site, constant] of [
  ['gpt2', gpt2, 'mlp.c_fc', 3],
  ['llama', llama, 'mlp.down_proj', 7],
] as const) {
  test(`${name}: the first run block's products computed once give the same states and gradients`, () => {
    const model = randomModel(config, 12, 0.3);
    model.setRequiresGrad(false);
    const hidden = randomTensor([2, 6, 16], new Random(3), 1);
    const rows = Int32Array.from([4, 5, 10, 11]);
    const siteName = model.linearName(1, site);
    // A trainable change at the site of block 1, as an adapter would make.
    const width = site === 'mlp.c_fc' ? model.config.ffnWidth : model.config.width;
    const delta = randomTensor([2, 6, width], new Random(4), 0.5, true);
    const hooks = new Map<string, LinearHook>([[siteName, (_input, output) => add(output, delta)]]);
    const frozen = model.frozenLinearOutputs(hidden, 1, new Set([siteName]));
    assert.equal(frozen.size, constant);
    assert.ok([...frozen.keys()].every((key) => key.startsWith(model.linearName(1, ''))));
    const run = (frozenOutputs?: ReadonlyMap<string, Tensor>) => {
      delta.grad = null;
      const out = model.hiddenAtRows(hidden, 1, rows, { hooks, frozenOutputs });
      backward(
        out,
        Float32Array.from(out.data, (v) => 2 * v),
      );
      return { values: out.data.slice(), grad: delta.grad!.slice() };
    };
    const plain = run();
    const cached = run(frozen);
    assert.ok(maxAbsDiff(cached.values, plain.values) < 1e-6);
    assert.ok(maxAbsDiff(cached.grad, plain.grad) < 1e-6);
    // The stored products are what is used: stale ones change the answer.
    const stale = new Map([...frozen].map(([key, value]) => [key, scale(value, 2)]));
    assert.ok(maxAbsDiff(run(stale).values, plain.values) > 1e-3);
  });
}
