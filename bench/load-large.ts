/**
 * `npm run bench:load`: writes a ~1.5B-parameter LLaMA-shaped checkpoint in F16
 * (Qwen2.5-1.5B-like sizes, values from a cheap pattern), then loads it in a
 * fresh process and reports load time and peak resident memory.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/models/config.js';
import { buildModel, loadModel, saveModel } from '../src/models/load.js';
import { Tensor } from '../src/tensor/tensor.js';
import { machineLine } from './harness.js';

const [, , mode, dir] = process.argv;

if (mode === 'load') {
  const started = performance.now();
  const { model, storedDtypes } = loadModel(dir);
  const seconds = (performance.now() - started) / 1000;
  // VmHWM belongs to this process image; getrusage's maxRSS would include the parent's RSS at fork time.
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  const peak = hwm ? Number(hwm[1]) / 2 ** 20 : process.resourceUsage().maxRSS / 2 ** 20; // KiB → GiB
  console.log(JSON.stringify({ parameters: model.parameterCount(), storedDtypes, seconds, peakGiB: peak }));
} else {
  const target = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-1.5b-'));
  try {
    const config = parseConfig(
      {
        model_type: 'llama',
        vocab_size: 151936,
        hidden_size: 1536,
        intermediate_size: 8960,
        num_hidden_layers: 28,
        num_attention_heads: 12,
        num_key_value_heads: 2,
        max_position_embeddings: 4096,
        tie_word_embeddings: true,
      },
      'large',
    );
    let counter = 0;
    const model = buildModel(config, (_name, shape) => {
      const t = Tensor.zeros(shape);
      for (let i = 0; i < t.size; i++) t.data[i] = ((counter++ % 2001) - 1000) * 1e-5;
      return t;
    });
    const written = performance.now();
    saveModel(target, model, { dtype: 'F16' });
    const bytes = fs.statSync(path.join(target, 'model.safetensors')).size;
    console.log(
      `${machineLine()}\nwrote ${(model.parameterCount() / 1e9).toFixed(2)}B parameters as F16: ${(bytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - written) / 1000).toFixed(1)} s`,
    );
    const self = fileURLToPath(import.meta.url);
    const result = JSON.parse(execFileSync(process.execPath, [self, 'load', target], { encoding: 'utf8' })) as {
      parameters: number;
      seconds: number;
      peakGiB: number;
    };
    console.log(
      `loaded in a fresh process: ${(result.parameters / 1e9).toFixed(2)}B parameters in ${result.seconds.toFixed(1)} s, peak RSS ${result.peakGiB.toFixed(2)} GiB (F32 weights alone: ${((result.parameters * 4) / 2 ** 30).toFixed(2)} GiB)`,
    );
  } finally {
    fs.rmSync(target, { recursive: true, force: true });
  }
}
