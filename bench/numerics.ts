/**
 * A fingerprint of ELDER's training arithmetic, to compare two code versions:
 * the loss of each of three batches (six records of the facts benchmark, two
 * at a time, elder's defaults) and a hash of the base model's logits on one
 * prompt, on elder-facts. Run it at both commits with `ELDER_THREADS=1`; the
 * base logits should agree bit for bit, the losses to every printed digit
 * unless the order of some sums changed.
 *
 *   ELDER_THREADS=1 node dist/bench/numerics.js
 */
import path from 'node:path';
import { tokenizeEdit } from '../src/editors/edit.js';
import { createEditor } from '../src/editors/registry.js';
import { readDataset } from '../src/eval/datasets.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { loadModel } from '../src/models/load.js';
import { requireTokenizer } from '../src/models/tokenizer.js';
import { packageRoot } from '../src/tensor/backends/native.js';
import { noGrad } from '../src/tensor/tensor.js';

const { model, tokenizer } = loadModel(defaultModelDir());
const tok = requireTokenizer(tokenizer, defaultModelDir());
const { records } = readDataset(path.join(packageRoot(), 'bench/data/facts/counterfact.json'), 'counterfact');
const edits = records
  .slice(0, 6)
  .map((r, i) => tokenizeEdit(tok, model.config, { id: `e${i}`, label: `e${i}`, prompt: r.prompt, target: r.target, subject: r.subject }));
const { editor } = createEditor('elder', model, {}, {});
for (let b = 0; b < edits.length; b += 2) console.log(`batch ${b / 2}: loss ${editor.applyBatch(edits.slice(b, b + 2)).loss.toPrecision(10)}`);
const logits = noGrad(() => model.forward(Int32Array.from(edits[0].promptIds), 1, edits[0].promptIds.length)).data;
let hash = 0;
for (let i = 0; i < logits.length; i += 97) hash += logits[i] * ((i % 13) + 1);
console.log(`base logits hash ${hash.toPrecision(12)}`);
