/**
 * `npm start` until the embedded default model lands: shows the compute
 * backend, then trains a small random GPT-2 on one fixed token sequence with
 * AdamW, showing the loss fall — the forward pass, every backward and the
 * optimizer working together on this machine.
 */
import os from 'node:os';
import { backendInfo } from '../../tensor/backends/index.js';
import { AdamW } from '../../tensor/adamw.js';
import { backward, noGrad } from '../../tensor/tensor.js';
import { parseConfig } from '../../models/config.js';
import { randomModel } from '../../models/load.js';
import { lmLoss, padBatch } from '../../models/batch.js';
import { argmax } from '../../models/generate.js';
import { Random } from '../../util/random.js';

export function demoCommand(): void {
  const backend = backendInfo();
  console.log(`elder engine on ${os.cpus()[0]?.model ?? 'unknown cpu'}: backend ${backend.backend}, ${backend.threads} threads`);
  if (backend.fallbackReason) console.log(`  (native addon not in use: ${backend.fallbackReason})`);

  const config = parseConfig(
    { model_type: 'gpt2', vocab_size: 512, n_positions: 64, n_embd: 128, n_layer: 4, n_head: 4, eos_token_id: 0, bos_token_id: 0 },
    'demo',
  );
  const model = randomModel(config, 1);
  model.setRequiresGrad(true);
  console.log(`random GPT-2: ${config.layers} layers, width ${config.width}, ${(model.parameterCount() / 1e6).toFixed(2)}M parameters`);

  const rng = new Random(7);
  const sequence = Array.from({ length: 24 }, () => 1 + rng.int(config.vocabSize - 1));
  const batch = padBatch([sequence], 0);
  const mask = sequence.map((_, t) => (t >= 8 ? 1 : 0)); // learn to continue the first 8 tokens
  const optimizer = new AdamW([...model.parameters.values()], { lr: 3e-3 });
  const started = performance.now();
  for (let step = 1; step <= 40; step++) {
    optimizer.zeroGrad();
    const { loss } = lmLoss(model, batch, mask);
    backward(loss);
    optimizer.step();
    if (step === 1 || step % 10 === 0) console.log(`  step ${String(step).padStart(2)}  loss ${loss.item().toFixed(4)}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const logits = noGrad(() => model.forward(batch.ids, 1, batch.steps)).data;
  let correct = 0;
  for (let t = 8; t < sequence.length; t++) if (argmax(logits, (t - 1) * config.vocabSize, config.vocabSize) === sequence[t]) correct++;
  console.log(`40 training steps in ${seconds.toFixed(2)} s; ${correct}/${sequence.length - 8} target tokens now predicted exactly.`);
  console.log('Next: elder info|logits|generate --model DIR on any GPT-2 or LLaMA Hugging Face folder (elder help).');
}
