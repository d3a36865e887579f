/**
 * `npm run bench -- --only=scale`: elder on the real shapes of the models the
 * paper edits and users bring, written once into a cache folder with
 * patterned values (the values do not matter for speed or memory):
 *
 *   llama2-7b     LLaMA-2-7B: 32 × 4096, FFN 11008, 32 heads, vocabulary 32000, BF16
 *   llama3.2-1b   Llama-3.2-1B's blocks: 16 × 2048, FFN 8192, 32/8 heads, GPT-2's vocabulary, BF16, tied head
 *   gpt2-xl       GPT2-XL: 48 × 1600, F16
 *   and the families people edit today at their real sizes, BF16: Llama-3.2-1B
 *   (llama3.2-1b-real, its own vocabulary and RoPE scaling), Qwen2.5-0.5B,
 *   Qwen2.5-1.5B, Qwen3-0.6B, Gemma-3-1B and Phi-3-mini
 *
 * Each shape is measured in a fresh process (so its peak resident memory is
 * its own): load, time to the first token after a 16-token prompt, greedy
 * decoding tokens/s, and ELDER's editing cost with the paper's settings
 * (batch 4, six edited blocks ending at 84% of the depth, 4 experts of rank
 * 8): s/iteration, s/edit at 50 iterations and peak memory while editing.
 * Beside them: the machine's read bandwidth (decode tokens/s × bytes read per
 * token is the share of it decoding reaches) and, with `--anchors`,
 * llama.cpp on the same weights (GGUF written by ../shared/bench/safetensors_to_gguf.py,
 * timed by ../shared/bench/llamacpp_gen.mjs; install node-llama-cpp beside
 * the repository first, see ../shared/README.md).
 *
 *   node dist/bench/scale.js [--shapes llama3.2-1b,gpt2-xl,llama2-7b] [--iterations 3] [--tokens 16] [--anchors] [--repeat 3]
 *
 * The cache folder is $ELDER_BENCH_CACHE, else ~/.cache/elder/scale.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TokenizedEdit } from '../src/editors/edit.js';
import { elderConfig } from '../src/editors/elder/config.js';
import { ElderEditor } from '../src/editors/elder/editor.js';
import { parseConfig } from '../src/models/config.js';
import type { DecoderLM, WeightSource } from '../src/models/decoder.js';
import { f32ToBf16Bits, f32ToF16Bits } from '../src/models/dtype.js';
import { generate } from '../src/models/generate.js';
import { buildModel, loadModel } from '../src/models/load.js';
import { kernels } from '../src/tensor/backends/index.js';
import { packageRoot } from '../src/tensor/backends/native.js';
import { materializedElements } from '../src/tensor/half.js';
import { Tensor } from '../src/tensor/tensor.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { formatSeconds } from '../src/util/progress.js';
import { Random } from '../src/util/random.js';
import { machineLine, printTable, readBandwidth } from './harness.js';

export interface Shape {
  name: string;
  dtype: 'F16' | 'BF16';
  config: Record<string, unknown>;
  /** Anchors run beside elder with `--anchors`: llama.cpp needs a LLaMA layout with GPT-2's vocabulary (its GGUF takes GPT-2's tokenizer); PyTorch's script knows GPT2-XL. */
  anchors: Array<'llama.cpp' | 'pytorch'>;
}

export const SHAPES: Shape[] = [
  {
    name: 'llama3.2-1b',
    dtype: 'BF16',
    anchors: ['llama.cpp'],
    config: {
      model_type: 'llama',
      vocab_size: 50257,
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      max_position_embeddings: 2048,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      tie_word_embeddings: true,
      bos_token_id: 50256,
      eos_token_id: 50256,
    },
  },
  {
    name: 'gpt2-xl',
    dtype: 'F16',
    anchors: ['pytorch'],
    config: { model_type: 'gpt2', vocab_size: 50257, n_embd: 1600, n_layer: 48, n_head: 25, n_positions: 1024, n_ctx: 1024 },
  },
  // The families people edit today, at their real sizes (#48).
  {
    name: 'llama3.2-1b-real',
    dtype: 'BF16',
    anchors: [],
    config: {
      model_type: 'llama',
      vocab_size: 128256,
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 64,
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      tie_word_embeddings: true,
      bos_token_id: 128000,
      eos_token_id: 128001,
    },
  },
  {
    name: 'qwen2.5-0.5b',
    dtype: 'BF16',
    anchors: [],
    config: {
      model_type: 'qwen2',
      vocab_size: 151936,
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      tie_word_embeddings: true,
      bos_token_id: 151643,
      eos_token_id: 151643,
    },
  },
  {
    name: 'qwen2.5-1.5b',
    dtype: 'BF16',
    anchors: [],
    config: {
      model_type: 'qwen2',
      vocab_size: 151936,
      hidden_size: 1536,
      intermediate_size: 8960,
      num_hidden_layers: 28,
      num_attention_heads: 12,
      num_key_value_heads: 2,
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      tie_word_embeddings: true,
      bos_token_id: 151643,
      eos_token_id: 151643,
    },
  },
  {
    name: 'qwen3-0.6b',
    dtype: 'BF16',
    anchors: [],
    config: {
      model_type: 'qwen3',
      vocab_size: 151936,
      hidden_size: 1024,
      intermediate_size: 3072,
      num_hidden_layers: 28,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 128,
      max_position_embeddings: 40960,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      tie_word_embeddings: true,
      bos_token_id: 151643,
      eos_token_id: 151645,
    },
  },
  {
    name: 'gemma3-1b',
    dtype: 'BF16',
    anchors: [],
    config: {
      model_type: 'gemma3_text',
      vocab_size: 262144,
      hidden_size: 1152,
      intermediate_size: 6912,
      num_hidden_layers: 26,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 256,
      hidden_activation: 'gelu_pytorch_tanh',
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      rope_local_base_freq: 10000,
      query_pre_attn_scalar: 256,
      sliding_window: 512,
      sliding_window_pattern: 6,
      tie_word_embeddings: true,
      bos_token_id: 2,
      eos_token_id: [1, 106],
    },
  },
  {
    name: 'phi3-mini',
    dtype: 'BF16',
    anchors: [],
    config: {
      model_type: 'phi3',
      vocab_size: 32064,
      hidden_size: 3072,
      intermediate_size: 8192,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      max_position_embeddings: 4096,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      sliding_window: 2047,
      tie_word_embeddings: false,
      bos_token_id: 1,
      eos_token_id: 32000,
    },
  },
  {
    name: 'llama2-7b',
    dtype: 'BF16',
    anchors: [],
    config: {
      model_type: 'llama',
      vocab_size: 32000,
      hidden_size: 4096,
      intermediate_size: 11008,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      max_position_embeddings: 4096,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
      bos_token_id: 1,
      eos_token_id: 2,
    },
  },
];

/** One shape's figures, measured in its own process. */
interface Measured {
  parameters: number;
  weightBytes: number;
  /** Bytes a decoding step reads: every block's linears and the LM head, as stored. */
  bytesPerToken: number;
  loadSeconds: number;
  loadPeakGiB: number;
  firstTokenSeconds: number;
  decodeTokensPerSecond: number;
  generatePeakGiB: number;
  iterationSeconds: number;
  /** The same on the PyTorch anchor's blocks, where the shape has one. */
  anchorIterationSeconds: number | null;
  editPeakGiB: number;
  materialized: number;
}

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === 'measure') {
  const [dir, iterations, tokens, blocks] = process.argv.slice(3);
  const anchorBlocks = blocks === undefined ? undefined : (blocks.split('-').map(Number) as [number, number]);
  console.log(JSON.stringify(measure(dir, Number(iterations), Number(tokens), anchorBlocks)));
} else if (process.argv[1] === self) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      shapes: { type: 'string' },
      iterations: { type: 'string' },
      tokens: { type: 'string' },
      anchors: { type: 'boolean' },
      repeat: { type: 'string' },
    },
  });
  scaleTable({
    shapes: values.shapes?.split(','),
    iterations: Number(values.iterations ?? 3),
    tokens: Number(values.tokens ?? 16),
    anchors: values.anchors === true,
    repeat: Number(values.repeat ?? 1),
  });
}

export interface ScaleOptions {
  shapes?: string[];
  iterations: number;
  tokens: number;
  anchors: boolean;
  /** Runs of each shape (elder and its anchors alternating); the table gives each cell's median. */
  repeat: number;
}

/** Each numeric cell's median over the runs of one engine (text cells from the first run). */
function medianRow(runs: Array<Array<string | number>>): Array<string | number> {
  return runs[0].map((cell, c) => {
    const values = runs.map((run) => Number(run[c])).filter((v) => Number.isFinite(v));
    if (cell === '' || values.length !== runs.length) return cell;
    const sorted = [...values].sort((a, b) => a - b);
    const digits = String(cell).split('.')[1]?.length ?? 0;
    return sorted[sorted.length >> 1].toFixed(digits);
  });
}

export function scaleTable(options: ScaleOptions): void {
  const shapes = options.shapes === undefined ? SHAPES : options.shapes.map((name) => SHAPES.find((s) => s.name === name) ?? unknownShape(name));
  const cache = process.env.ELDER_BENCH_CACHE ?? path.join(os.homedir(), '.cache', 'elder', 'scale');
  console.log(machineLine());
  const bandwidth = readBandwidth();
  console.log(`read bandwidth: ${bandwidth.toFixed(1)} GB/s (a vectorised scan of 1 GiB, ${kernels.getThreads()} threads, median of 5)`);
  const steps = shapes.length * (1 + options.repeat * (options.anchors ? 2 : 1));
  const started = performance.now();
  let done = 0;
  const step = (what: string) => {
    const elapsed = (performance.now() - started) / 1000;
    const eta = elapsed < 1 ? '' : `, ETA ${formatSeconds((elapsed / done) * (steps - done))}`;
    process.stderr.write(`[${++done}/${steps}] ${what} (elapsed ${formatSeconds(elapsed)}${eta})\n`);
  };
  // Each shape's rows, by engine, from every repeat: elder and its anchors alternate, so that a drift of the machine reaches both.
  const rows: Array<Array<string | number>> = [];
  for (const shape of shapes) {
    const dir = path.join(cache, shape.name);
    step(`${shape.name}: checkpoint`);
    writeCheckpoint(dir, shape);
    // With the PyTorch anchor, ELDER is also timed on the anchor's own blocks (its script edits the six below the top one).
    const layers = Number(shape.config.n_layer ?? shape.config.num_hidden_layers);
    const anchorBlocks = options.anchors && shape.anchors.includes('pytorch') ? [`${layers - 7}-${layers - 2}`] : [];
    const repeats = new Map<string, Array<Array<string | number>>>();
    const keep = (row: Array<string | number>) => repeats.set(String(row[0]), [...(repeats.get(String(row[0])) ?? []), row]);
    for (let repeat = 0; repeat < options.repeat; repeat++) {
      step(`${shape.name}: load, generate and edit in a fresh process${options.repeat > 1 ? ` (${repeat + 1}/${options.repeat})` : ''}`);
      const m = JSON.parse(
        execFileSync(process.execPath, [self, 'measure', dir, String(options.iterations), String(options.tokens), ...anchorBlocks], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        }),
      ) as Measured;
      const reached = (m.decodeTokensPerSecond * m.bytesPerToken) / 1e9;
      keep([
        `elder ${shape.name} (${shape.dtype})`,
        (m.parameters / 1e9).toFixed(2),
        m.loadSeconds.toFixed(2),
        m.firstTokenSeconds.toFixed(2),
        m.decodeTokensPerSecond.toFixed(2),
        ((100 * reached) / bandwidth).toFixed(0),
        m.generatePeakGiB.toFixed(2),
        m.iterationSeconds.toFixed(2),
        ((m.iterationSeconds * 50) / 4).toFixed(1),
        m.editPeakGiB.toFixed(2),
        m.materialized === 0 ? 'none' : `${(m.materialized / 1e6).toFixed(1)} M values`,
      ]);
      if (!options.anchors) continue;
      step(`${shape.name}: anchors (${shape.anchors.join(', ') || 'none'})`);
      if (m.anchorIterationSeconds !== null)
        keep([
          `elder ${shape.name} (blocks ${anchorBlocks[0]})`,
          '',
          '',
          '',
          '',
          '',
          '',
          m.anchorIterationSeconds.toFixed(2),
          ((m.anchorIterationSeconds * 50) / 4).toFixed(1),
          '',
          '',
        ]);
      const anchor = shape.anchors.includes('llama.cpp') ? llamaCpp(dir, shape, options.tokens) : null;
      if (anchor !== null) {
        const reachedByAnchor = (anchor.decodeTokPerS * m.bytesPerToken) / 1e9;
        const [load, prompt] = [anchor.loadMs / 1000, anchor.promptMs / 1000];
        keep([
          `llama.cpp ${shape.name}`,
          '',
          load.toFixed(2),
          prompt.toFixed(2),
          anchor.decodeTokPerS.toFixed(2),
          ((100 * reachedByAnchor) / bandwidth).toFixed(0),
          anchor.rssGiB.toFixed(2),
          '',
          '',
          '',
          '',
        ]);
      }
      if (shape.anchors.includes('pytorch')) {
        for (const mode of ['official', 'cached'] as const) {
          const edit = pytorchEdit(mode, options.iterations);
          if (edit !== null)
            keep([`PyTorch ${shape.name} (${mode}, blocks ${anchorBlocks[0]})`, '', '', '', '', '', '', ((edit * 4) / 50).toFixed(2), edit.toFixed(1), '', '']);
        }
      }
    }
    for (const runs of repeats.values()) rows.push(medianRow(runs));
  }
  printTable(
    `Real shapes, patterned weights: a 16-token prompt, ${options.tokens} greedy tokens; ELDER with the paper's settings (batch 4 × 20 tokens, 6 blocks ending at 84% of the depth, 4 experts of rank 8), ${options.iterations} iterations timed; medians of ${options.repeat} run${options.repeat > 1 ? 's' : ''}`,
    [
      'engine, shape',
      'B params',
      'load s',
      'first token s',
      'decode tokens/s',
      '% of read bandwidth',
      'peak GiB (generate)',
      's/iteration',
      's/edit at 50',
      'peak GiB (edit)',
      'weights upcast',
    ],
    rows,
  );
}

function unknownShape(name: string): never {
  throw new Error(`unknown shape "${name}" (known: ${SHAPES.map((s) => s.name).join(', ')})`);
}

/**
 * Writes a shape's checkpoint in Hugging Face layout, tensor by tensor in its
 * stored dtype (the model is never built in float32), unless it is there.
 */
export function writeCheckpoint(dir: string, shape: Shape): void {
  const file = path.join(dir, 'model.safetensors');
  if (fs.existsSync(file)) return;
  fs.mkdirSync(dir, { recursive: true });
  const config = parseConfig(shape.config, shape.name);
  // The tensor list as the model declares it, over one reused buffer.
  const tensors: Array<{ name: string; shape: readonly number[]; init: string }> = [];
  let scratch = new Uint16Array(0);
  const source: WeightSource = (name, dims, init) => {
    const size = dims.reduce((a, b) => a * b, 1);
    if (scratch.length < size) scratch = new Uint16Array(size);
    tensors.push({ name, shape: dims, init });
    return new Tensor({ bits: scratch.subarray(0, size), dtype: 'BF16' }, dims);
  };
  buildModel(config, source);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
    header[t.name] = { dtype: shape.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const encode = shape.dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
  const pattern = Uint16Array.from({ length: 1 << 20 }, (_, i) => encode((((i * 7919) % 2001) - 1000) * 2e-5));
  const ones = new Uint16Array(1 << 20).fill(encode(1));
  const zeros = new Uint16Array(1 << 20);
  const partial = `${file}.partial`;
  const fd = fs.openSync(partial, 'w');
  try {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    fs.writeSync(fd, length);
    fs.writeSync(fd, Buffer.from(json, 'utf8'));
    for (const t of tensors) {
      const chunk = t.init === 'ones' ? ones : t.init === 'zeros' ? zeros : pattern;
      let left = t.shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        fs.writeSync(fd, new Uint8Array(chunk.buffer, 0, n * 2));
        left -= n;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  writeFileAtomic(path.join(dir, 'config.json'), [Buffer.from(`${JSON.stringify(shape.config, null, 2)}\n`)]);
  fs.renameSync(partial, file);
}

/** Peak resident memory of this process since the last reset, GiB. */
function peakGiB(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) / 2 ** 20 : Number.NaN;
}

/** Starts a new peak-memory window (Linux: writing 5 to clear_refs resets VmHWM). */
function resetPeak(): void {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Without it the later peaks include the earlier phases'.
  }
}

/** Median seconds of an ELDER iteration (paper preset, batch of 4 random edits × 20 tokens) on blocks first–last. */
function elderIteration(model: DecoderLM, firstBlock: number, lastBlock: number, iterations: number, rng: Random): number {
  const config = elderConfig(model.config, { preset: 'paper', iterations, firstBlock, lastBlock });
  const editor = new ElderEditor(model, config);
  const edits: TokenizedEdit[] = Array.from({ length: 4 }, (_, i) => ({
    id: `e${i}`,
    label: `e${i}`,
    prompt: '',
    target: '',
    promptIds: Array.from({ length: 15 }, () => rng.int(model.config.vocabSize)),
    targetIds: Array.from({ length: 5 }, () => rng.int(model.config.vocabSize)),
  }));
  const times: number[] = [];
  let last = performance.now();
  editor.train(edits, () => {
    const now = performance.now();
    times.push((now - last) / 1000);
    last = now;
  });
  // The first iteration also runs the frozen prefix once; the median is a steady one.
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

function measure(dir: string, iterations: number, tokens: number, anchorBlocks?: [number, number]): Measured {
  const t0 = performance.now();
  const { model } = loadModel(dir);
  const loadSeconds = (performance.now() - t0) / 1000;
  const loadPeakGiB = peakGiB();
  let weightBytes = 0;
  for (const t of model.parameters.values()) weightBytes += t.heldBytes;
  // A decoding step reads every block linear and the LM head whole, and one row of the embeddings.
  let bytesPerToken = model.lmHeadWeight.heldBytes;
  for (let block = 0; block < model.config.layers; block++)
    for (const local of model.blockLinears) bytesPerToken += model.parameters.get(`${model.linearName(block, local)}.weight`)!.heldBytes;

  resetPeak();
  const rng = new Random(3);
  const prompt = Array.from({ length: 16 }, () => rng.int(model.config.vocabSize));
  const t1 = performance.now();
  generate(model, prompt, { maxTokens: 1, stopIds: [] });
  const firstTokenSeconds = (performance.now() - t1) / 1000;
  const t2 = performance.now();
  generate(model, prompt, { maxTokens: tokens + 1, stopIds: [] });
  const decodeTokensPerSecond = tokens / ((performance.now() - t2) / 1000 - firstTokenSeconds);
  const generatePeakGiB = peakGiB();

  resetPeak();
  const lastBlock = Math.round(0.84 * model.config.layers);
  const iterationSeconds = elderIteration(model, lastBlock - 5, lastBlock, iterations, rng);
  const editPeakGiB = peakGiB();
  const anchorIterationSeconds = anchorBlocks === undefined ? null : elderIteration(model, anchorBlocks[0], anchorBlocks[1], iterations, rng);
  return {
    parameters: model.parameterCount(),
    weightBytes,
    bytesPerToken,
    loadSeconds,
    loadPeakGiB,
    firstTokenSeconds,
    decodeTokensPerSecond,
    generatePeakGiB,
    iterationSeconds,
    anchorIterationSeconds,
    editPeakGiB,
    materialized: materializedElements(),
  };
}

/** PyTorch's s/edit at 50 iterations on the GPT2-XL shape (../shared/bench/torch_elder_bench.py), or null where it cannot run. */
function pytorchEdit(mode: 'official' | 'cached', iterations: number): number | null {
  const script = path.resolve(packageRoot(), '..', 'shared', 'bench', 'torch_elder_bench.py');
  try {
    const out = execFileSync('/usr/bin/python3', [script, 'gpt2-xl', String(iterations), mode], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const match = /([\d.]+) s\/edit at 50 iters/.exec(out);
    return match === null ? null : Number(match[1]);
  } catch (error) {
    process.stderr.write(`PyTorch anchor (${mode}) did not run: ${(error as Error).message.split('\n')[0]}\n`);
    return null;
  }
}

/** llama.cpp on the same weights, or null (with the reason on stderr) where its anchor cannot run. */
function llamaCpp(dir: string, shape: Shape, tokens: number): { loadMs: number; promptMs: number; decodeTokPerS: number; rssGiB: number } | null {
  const shared = path.resolve(packageRoot(), '..', 'shared', 'bench');
  const prefix = path.resolve(packageRoot(), '..', 'llamacpp');
  const gguf = path.join(dir, `${shape.name}-${shape.dtype}.gguf`);
  try {
    if (!fs.existsSync(gguf)) execFileSync('python3', [path.join(shared, 'safetensors_to_gguf.py'), dir, gguf], { stdio: ['ignore', 'ignore', 'inherit'] });
    const line = execFileSync(process.execPath, [path.join(shared, 'llamacpp_gen.mjs'), gguf, String(tokens + 1), String(kernels.getThreads()), prefix], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return JSON.parse(line.trim().split('\n').pop()!) as { loadMs: number; promptMs: number; decodeTokPerS: number; rssGiB: number };
  } catch (error) {
    process.stderr.write(`llama.cpp anchor for ${shape.name} did not run: ${(error as Error).message.split('\n')[0]}\n`);
    return null;
  }
}
