/**
 * `npm run bench -- --only=pretrain`: pretraining throughput (tokens/s) of
 * elder's own trainer on the shapes it trains: elder-facts (6 × 256, vocabulary
 * 10,641) and the earlier elder-tiny (6 × 256, GPT-2's 50,257), batch 8 × 128.
 * Each row runs the same step with and without reusing the step's buffers,
 * interleaved, so the ratio compares like with like.
 */
import { parseConfig } from '../src/models/config.js';
import { randomModel } from '../src/models/load.js';
import { AdamW } from '../src/tensor/adamw.js';
import { BufferPool } from '../src/tensor/buffers.js';
import { trainingStep } from '../src/train/pretrain.js';
import { Random } from '../src/util/random.js';
import { median, printTable } from './harness.js';

export function pretrainTable(quick: boolean): void {
  const shapes = [
    { name: 'elder-facts (vocab 10,641)', vocab: 10641 },
    { name: 'elder-tiny shape (vocab 50,257)', vocab: 50257 },
  ];
  const batchSize = 8;
  const windowLength = 128;
  const rounds = quick ? 3 : 8;
  const rows = shapes.map(({ name, vocab }) => {
    const config = parseConfig({ model_type: 'gpt2', vocab_size: vocab, n_positions: 128, n_embd: 256, n_layer: 6, n_head: 8, n_inner: 1024 }, name);
    const model = randomModel(config, 1, 0.02);
    model.setRequiresGrad(true);
    const optimizer = new AdamW([...model.parameters.values()], { lr: 1e-4, beta2: 0.95, weightDecay: 0.1 });
    const rng = new Random(2);
    const windows = Int32Array.from({ length: batchSize * (windowLength + 1) }, () => rng.int(vocab));
    const pool = new BufferPool();
    const times = { fresh: [] as number[], pooled: [] as number[] };
    const run = (which: 'fresh' | 'pooled') => {
      optimizer.zeroGrad();
      const t0 = performance.now();
      trainingStep(model, optimizer, windows, { batchSize, windowLength, clipNorm: 1 }, which === 'pooled' ? pool : null);
      times[which].push((performance.now() - t0) / 1000);
    };
    run('fresh');
    run('pooled');
    times.fresh.length = 0;
    times.pooled.length = 0;
    for (let r = 0; r < rounds; r++) {
      run('fresh');
      run('pooled');
    }
    const tokens = batchSize * windowLength;
    const fresh = tokens / median(times.fresh);
    const pooled = tokens / median(times.pooled);
    return [name, `${(model.parameterCount() / 1e6).toFixed(1)}M`, fresh.toFixed(0), pooled.toFixed(0), `${(pooled / fresh).toFixed(2)}×`];
  });
  printTable(
    `pretraining step (batch ${batchSize} × ${windowLength} tokens, forward + backward + clip + AdamW), tokens/s, median of ${rounds} interleaved steps`,
    ['model', 'parameters', 'fresh buffers', 'pooled buffers', 'pooled / fresh'],
    rows,
  );
}
