/**
 * ELDER benchmarks (part of `npm run bench`):
 *   seconds per edit, elder's training loop vs the naive one (full forward every
 *   iteration, LM head on every position), same model, batch and iterations;
 *   inference overhead of the edited model over the base model;
 *   nearest-code search time for 1k, 10k and 100k stored codes.
 */

import { padTokenId, prepareBatch } from '../src/editors/common/batch.js';
import type { TokenizedEdit } from '../src/editors/edit.js';
import { AllocationTable, presetsOf } from '../src/editors/elder/allocation.js';
import { Codebook, encodeCode } from '../src/editors/elder/codebook.js';
import { type ElderConfig, elderConfig, settingsOf } from '../src/editors/elder/config.js';
import { editedBlocks, querySiteOf } from '../src/editors/elder/core-config.js';
import { ElderEditor } from '../src/editors/elder/editor.js';
import type { EditMemory } from '../src/editors/elder/frozen.js';
import { guidedLoss } from '../src/editors/elder/guided-loss.js';
import { MixtureOfLora } from '../src/editors/elder/mixture.js';
import type { ElderSnapshot } from '../src/editors/elder/snapshot.js';
import type { DecoderLM, LinearHook } from '../src/models/decoder.js';
import { generate } from '../src/models/generate.js';
import { AdamW } from '../src/tensor/adamw.js';
import { add, scale } from '../src/tensor/ops/arithmetic.js';
import { crossEntropy } from '../src/tensor/ops/crossentropy.js';
import { selectRows } from '../src/tensor/ops/select.js';
import { backward, noGrad, type Tensor } from '../src/tensor/tensor.js';
import { Random } from '../src/util/random.js';
import { interleavedMedians, medianSeconds, printTable } from './harness.js';
import { breakdownRows, peakSeconds, productFlops, profile } from './profile.js';

/**
 * The same optimisation as ElderEditor.train, done naively on a mixture of
 * its own: every iteration runs the whole model and the LM head on all
 * positions.
 */
function naiveTrainBatch(model: DecoderLM, config: ElderConfig, mixture: MixtureOfLora, edits: readonly TokenizedEdit[]): void {
  const { core, training } = config;
  const prepared = prepareBatch(edits, padTokenId(model.config));
  const blocks = editedBlocks(core);
  const allocations = new AllocationTable(blocks.length, core.experts, core.topK, core.seed).draft(edits.map((e) => e.label));
  const presets = presetsOf(
    edits.map((e) => allocations.get(e.label)!),
    blocks.length,
    core.topK,
  );
  const optimizer = new AdamW(mixture.parameters(), { lr: training.lr });
  const { ids, batch, steps } = prepared.tokens;
  for (let iteration = 0; iteration < training.iterations; iteration++) {
    optimizer.zeroGrad();
    let routingHooks: Map<string, LinearHook> | null = null;
    let guided: Tensor | null = null;
    const hooks = new Map<string, LinearHook>();
    hooks.set(querySiteOf(model, core), (input, output) => {
      const routing = mixture.route(selectRows(input, prepared.queryRows).detach());
      routingHooks = mixture.hooks(model, routing);
      guided = routing.logits.map((logits, i) => guidedLoss(logits, presets[i], core.topK)).reduce((a, b) => add(a, b));
      return output;
    });
    for (const site of blocks.map((block) => model.linearName(block, core.site))) hooks.set(site, (input, output) => routingHooks!.get(site)!(input, output));
    const logits = model.forward(ids, batch, steps, { hooks });
    const targetLogits = selectRows(logits, prepared.targets.rows);
    const { loss } = crossEntropy(targetLogits, prepared.targets.targets);
    backward(add(loss, scale(guided!, core.lambda)));
    optimizer.step();
  }
}

function randomEdits(model: DecoderLM, rng: Random, count: number, promptLength: number, targetLength: number): TokenizedEdit[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `e${i}`,
    label: `e${i}`,
    prompt: '',
    target: '',
    promptIds: Array.from({ length: promptLength }, () => rng.int(model.config.vocabSize)),
    targetIds: Array.from({ length: targetLength }, () => rng.int(model.config.vocabSize)),
  }));
}

export function elderTables(model: DecoderLM, quick: boolean): void {
  const rng = new Random(5);
  const iterations = quick ? 10 : 50;
  // The paper's six edited blocks, as the PyTorch anchor (../shared/bench/torch_elder_bench.py) trains them.
  const config = elderConfig(model.config, { preset: 'paper', iterations, firstBlock: 5, lastBlock: 10 });
  const { core } = config;
  const edits = randomEdits(model, rng, 4, 15, 5);

  const fastEditor = new ElderEditor(model, config);
  const naiveMixture = new MixtureOfLora(config.core, model);
  const [fast, naive] = interleavedMedians([() => fastEditor.train(edits), () => naiveTrainBatch(model, config, naiveMixture, edits)], quick ? 1 : 3);
  printTable(
    `ELDER training, GPT-2 small shape, blocks ${core.firstBlock}–${core.lastBlock}, ${core.experts} experts of rank ${core.rank}, batch 4 × 20 tokens (5 target), ${iterations} iterations`,
    ['training loop', 's per batch', 's per edit', 'speed-up'],
    [
      ['naive: full forward + LM head on all positions each iteration', naive.toFixed(2), (naive / 4).toFixed(2), '1.0×'],
      ['elder: frozen prefix once, LM head on target rows only', fast.toFixed(2), (fast / 4).toFixed(2), `${(naive / fast).toFixed(1)}×`],
    ],
  );

  // Inference: a 20-token prompt that routes to a stored code (not deferred) vs the base model.
  const prompt = edits[0].promptIds.concat(edits[0].targetIds);
  const probeSession = fastEditor.session(Int32Array.from([prompt.length - 1]));
  noGrad(() => model.forward(Int32Array.from(prompt), 1, prompt.length, { hooks: probeSession.hooks('prompt') }));
  const probeCode = encodeCode(probeSession.decisions[0].experts, core.experts);
  const weights = fastEditor.snapshot().weights;
  const holding = (codes: Array<readonly [string, Uint32Array]>, memory: ElderSnapshot['memory']): ElderSnapshot => ({
    weights,
    codes,
    retracted: [],
    allocations: [],
    memory,
  });
  const editor = ElderEditor.restore(model, config, holding([['probe', probeCode]], []));
  if (editor.answer(prompt, 1).decision.deferred) throw new Error('benchmark prompt was deferred: the overhead row would measure the base model');
  // elder's subject gate on the same weights: the prompt's own edit plus 999 others, remembered states far from it (given as computed frozen passes).
  const gatedConfig = elderConfig(model.config, { ...settingsOf(config), gate: 'subject', subjectBlock: 1 });
  const probeEdit = { id: 'probe', label: 'probe', promptIds: prompt, targetIds: edits[0].targetIds, subjectEnd: 3 };
  const frozenCache = new Map<string, EditMemory>();
  ElderEditor.restore(model, gatedConfig, holding([['probe', probeCode]], [probeEdit]), { frozenCache });
  const probe = frozenCache.get('probe')!;
  const others = Array.from({ length: 999 }, (_, i) => `other-${i}`);
  const shift = (v: Float32Array) => v.map((x) => x + (rng.uniform() - 0.5) * 2);
  for (const id of others) {
    const keys = { gateQuery: shift(probe.keys.gateQuery!), subjectKey: shift(probe.keys.subjectKey!) };
    frozenCache.set(id, { ...probe, id, label: id, query: shift(probe.query), keys });
  }
  const gated = ElderEditor.restore(
    model,
    gatedConfig,
    holding([['probe', probeCode], ...others.map((id) => [id, probeCode] as const)], [probeEdit, ...others.map((id) => ({ ...probeEdit, id, label: id }))]),
    { frozenCache },
  );
  if (gated.answer(prompt, 1).decision.matched !== 'probe') throw new Error('benchmark prompt did not match its edit under the subject gate');

  const ids = Int32Array.from(prompt);
  const queryRows = Int32Array.from([prompt.length - 1]);
  const forwardWith = (routed: ElderEditor | null) => () =>
    noGrad(() => model.forward(ids, 1, ids.length, routed === null ? {} : { hooks: routed.session(queryRows).hooks('prompt') }));
  const [base, edited, editedGated] = interleavedMedians([forwardWith(null), forwardWith(editor), forwardWith(gated)], quick ? 9 : 41);
  const tokens = 16;
  const [baseGen, editedGen] = interleavedMedians(
    [
      () => generate(model, prompt, { maxTokens: tokens, stopIds: [] }),
      () => generate(model, prompt, { maxTokens: tokens, stopIds: [], session: editor.session(queryRows) }),
    ],
    quick ? 5 : 9,
  );
  const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)}%`;
  printTable(
    'ELDER inference overhead (prompt routed to a stored code, not deferred), batch 1',
    ['workload', 'base ms', 'edited ms', 'overhead'],
    [
      ['forward, 20-token prompt', (base * 1e3).toFixed(1), (edited * 1e3).toFixed(1), pct(edited, base)],
      [`generate ${tokens} tokens (KV cache)`, (baseGen * 1e3).toFixed(1), (editedGen * 1e3).toFixed(1), pct(editedGen, baseGen)],
      ['forward, 20-token prompt, subject gate over 1,000 edits', (base * 1e3).toFixed(1), (editedGated * 1e3).toFixed(1), pct(editedGated, base)],
    ],
  );

  // Where the time of elder's loop goes: a batch on an editor of its own (the editors above stay as measured), after one warm-up batch.
  const profiledEditor = new ElderEditor(model, config);
  profiledEditor.train(edits);
  const breakdown = profile(() => profiledEditor.train(edits));
  printTable(
    `Where an ELDER training iteration goes (the elder loop above, one batch of ${iterations} iterations, profiled)`,
    ['part', 'ms per iteration', 'share'],
    breakdownRows(breakdown, iterations),
  );
  // The iteration against the machine: its counted FLOPs over its time, and the time its products take alone at sgemm's rate.
  const flops = breakdown.products.reduce((sum, shape) => sum + shape.calls * productFlops(shape), 0);
  const atPeak = peakSeconds(breakdown.products);
  const perIteration = fast / iterations;
  printTable(
    'ELDER iteration against the sgemm peak of its own product shapes (same run)',
    ['', 'GFLOP per iteration', 'ms per iteration', 'GFLOP/s'],
    [
      [
        'elder iteration (counted: every sgemm and the fused LM head)',
        (flops / iterations / 1e9).toFixed(2),
        (perIteration * 1e3).toFixed(1),
        (flops / iterations / perIteration / 1e9).toFixed(0),
      ],
      [
        'the same products alone, each shape at sgemm’s rate',
        (flops / iterations / 1e9).toFixed(2),
        ((atPeak / iterations) * 1e3).toFixed(1),
        (flops / atPeak / 1e9).toFixed(0),
      ],
      [`share of that peak the iteration reaches`, '', '', `${((100 * atPeak) / (perIteration * iterations)).toFixed(0)}%`],
    ],
  );

  const rows = [1_000, 10_000, 100_000].map((count) => {
    const codebook = new Codebook(1, count);
    const layers = core.lastBlock - core.firstBlock + 1;
    const randomCode = () =>
      encodeCode(
        Array.from({ length: layers }, () => rng.shuffle([0, 1, 2, 3]).slice(0, 2)),
        4,
      );
    for (let i = 0; i < count; i++) codebook.add(`c${i}`, randomCode());
    const queries = Array.from({ length: 64 }, randomCode).map((code) => {
      code[0] ^= 0x1; // not stored exactly, so every scan runs to the end
      return code;
    });
    let q = 0;
    const seconds = medianSeconds(() => codebook.nearest(queries[q++ % queries.length]), { minRuns: 20, maxRuns: 200, budgetSeconds: quick ? 0.3 : 1 });
    return [count.toLocaleString('en-US'), (seconds * 1e3).toFixed(3)];
  });
  printTable('nearest-code search (24-bit codes, Hamming distance by popcount)', ['stored codes', 'ms per query'], rows);
}
