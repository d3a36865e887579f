import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/models/config.js';
import type { DecoderLM, LinearHook } from '../src/models/decoder.js';
import { randomModel } from '../src/models/load.js';
import { scale } from '../src/tensor/ops/arithmetic.js';
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
