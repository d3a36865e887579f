/**
 * `npm run train:tiny`: trains elder-tiny, elder's embedded default model,
 * from scratch on Debian-packaged English text, and writes it as a Hugging
 * Face-layout folder (F16 weights, the real GPT-2 tokenizer) with its loss
 * curve and a machine-readable training record for the model card.
 *
 * Interrupt it (Ctrl-C, or kill) and run it again: it resumes from the last
 * checkpoint in the work folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { parseConfig, type ModelConfig } from '../src/models/config.js';
import { randomModel, saveModel } from '../src/models/load.js';
import { TextTokenizer } from '../src/models/tokenizer.js';
import { backendInfo } from '../src/tensor/backends/index.js';
import { loadDebianCorpus } from '../src/train/corpus.js';
import { tokenizeDocuments } from '../src/train/dataset.js';
import { pretrain, type PretrainConfig, type TrainerState } from '../src/train/pretrain.js';
import { lineChart } from '../src/plot/svg.js';
import { Progress, formatSeconds } from '../src/util/progress.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { ElderError } from '../src/util/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const END_OF_TEXT = 50256;

/**
 * Six blocks of width 256 (8 heads of 32), context 128. The tied 50257 × 256
 * embedding is 12.9M of the 17.6M parameters, so the F16 file is ~35 MB,
 * under the 40 MB budget; six blocks give ELDER its paper-sized stack of
 * edited layers (1–5) above a query block (0).
 */
export const ELDER_TINY_CONFIG = {
  model_type: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  vocab_size: 50257,
  n_positions: 128,
  n_embd: 256,
  n_layer: 6,
  n_head: 8,
  n_inner: 1024,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  bos_token_id: END_OF_TEXT,
  eos_token_id: END_OF_TEXT,
  tie_word_embeddings: true,
};

interface Options {
  steps: number;
  out: string;
  work: string;
  tokenizer: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    steps: 800,
    out: path.join(root, 'models/elder-tiny'),
    work: path.join(root, '.elder-cache/train-tiny'),
    tokenizer: '',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--steps') options.steps = Number(value);
    else if (flag === '--out') options.out = path.resolve(value);
    else if (flag === '--work') options.work = path.resolve(value);
    else if (flag === '--tokenizer') options.tokenizer = path.resolve(value);
    else throw new Error(`unknown option ${flag} (known: --steps N, --out DIR, --work DIR, --tokenizer DIR)`);
  }
  if (!Number.isInteger(options.steps) || options.steps < 1) throw new Error(`--steps must be a positive integer`);
  return options;
}

/** The GPT-2 tokenizer: --tokenizer, else the one already shipped with elder-tiny, else the workplace's copy. */
function findTokenizer(options: Options): string {
  const candidates = [options.tokenizer, options.out, path.join(root, '../shared/tokenizers/gpt2')].filter((dir) => dir !== '');
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'tokenizer.json')));
  if (found === undefined) throw new Error(`no GPT-2 tokenizer.json in ${candidates.join(', ')}; pass --tokenizer DIR`);
  return found;
}

function main(): void {
  const options = parseOptions(process.argv.slice(2));
  const tokenizerDir = findTokenizer(options);
  const tokenizer = TextTokenizer.load(tokenizerDir)!;
  const corpus = loadDebianCorpus();
  const started = performance.now();
  const data = tokenizeDocuments(corpus.documents, tokenizer, END_OF_TEXT);
  console.log(`corpus: ${corpus.documents.length} documents → ${data.train.length} training and ${data.validation.length} validation tokens (tokenized in ${formatSeconds((performance.now() - started) / 1000)})`);

  const modelConfig: ModelConfig = parseConfig(ELDER_TINY_CONFIG, 'elder-tiny config');
  const config: PretrainConfig = {
    totalSteps: options.steps,
    warmupSteps: Math.min(100, Math.floor(options.steps / 10)),
    maxLr: 1e-3,
    minLr: 1e-4,
    batchSize: 16,
    windowLength: modelConfig.contextLength,
    weightDecay: 0.1,
    clipNorm: 1,
    seed: 1234,
    evalEvery: 100,
    evalWindows: 128,
    checkpointSeconds: 300,
  };
  const backend = backendInfo();
  console.log(`model: ${modelConfig.layers} layers × ${modelConfig.width} wide, context ${modelConfig.contextLength}; ${config.totalSteps} steps of ${config.batchSize} × ${config.windowLength} tokens; backend ${backend.backend} with ${backend.threads} threads on ${os.cpus()[0]?.model ?? 'unknown CPU'}`);

  let stopRequested = false;
  const onSignal = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    console.log('\nstopping after this step and writing a checkpoint (signal again to abort)…');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let progress: Progress | null = null;
  const result = pretrain(
    () => initialisedModel(modelConfig, config.seed),
    data,
    config,
    {
      checkpointDir: options.work,
      shouldStop: () => stopRequested,
      onProgress: (p, state) => {
        progress ??= new Progress(p.totalSteps, 'step', p.step - 1);
        const validation = p.validationLoss === undefined ? '' : ` · validation ${p.validationLoss.toFixed(3)} (ppl ${Math.exp(p.validationLoss).toFixed(1)})`;
        progress.update(p.step, `loss ${p.loss.toFixed(3)} · lr ${p.lr.toExponential(2)} · ${Math.round(p.tokensPerSecond)} tok/s${validation}${p.checkpointed === true ? ' · checkpoint' : ''}`, {
          transient: p.validationLoss === undefined && p.checkpointed !== true && p.step % 10 !== 0,
        });
        if (p.checkpointed === true) writeLossCurve(path.join(options.work, 'loss-curve.svg'), state);
      },
    },
  );
  if (result.resumedFrom > 0) console.log(`resumed from step ${result.resumedFrom}`);
  if (!result.finished) {
    console.log(`stopped at step ${result.state.step}; run the same command again to resume`);
    return;
  }

  const { state } = result;
  const finalValidation = state.validation[state.validation.length - 1].loss;
  fs.mkdirSync(options.out, { recursive: true });
  saveModel(options.out, result.model, {
    dtype: 'F16',
    tokenizerFrom: tokenizerDir === options.out ? undefined : tokenizerDir,
    metadata: { 'elder.trained_by': 'npm run train:tiny', 'elder.validation_loss': finalValidation.toFixed(4) },
  });
  writeLossCurve(path.join(options.out, 'loss-curve.svg'), state);
  const record: TrainingRecord = {
    parameters: result.model.parameterCount(),
    weightsBytes: fs.statSync(path.join(options.out, 'model.safetensors')).size,
    finalValidationLoss: finalValidation,
    finalValidationPerplexity: Math.exp(finalValidation),
    trainingSeconds: Math.round(state.trainingSeconds),
    tokensSeen: state.step * config.batchSize * config.windowLength,
    trainTokens: data.train.length,
    validationTokens: data.validation.length,
    documents: corpus.documents.length,
    sources: corpus.sources,
    config,
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${backend.backend} backend, ${backend.threads} threads`,
    validation: state.validation,
  };
  writeFileAtomic(path.join(options.out, 'training.json'), [Buffer.from(JSON.stringify(record, null, 2) + '\n')]);
  writeFileAtomic(path.join(options.out, 'README.md'), [Buffer.from(modelCard(record, modelConfig))]);
  console.log(`wrote ${options.out}: ${record.parameters} parameters, ${(record.weightsBytes / 1e6).toFixed(1)} MB, validation loss ${finalValidation.toFixed(3)} (perplexity ${record.finalValidationPerplexity.toFixed(1)}), ${formatSeconds(state.trainingSeconds)} of training`);
}

type TrainingRecord = {
  parameters: number;
  weightsBytes: number;
  finalValidationLoss: number;
  finalValidationPerplexity: number;
  trainingSeconds: number;
  tokensSeen: number;
  trainTokens: number;
  validationTokens: number;
  documents: number;
  sources: Array<{ package: string; version: string; files: Array<{ path: string; bytes: number }>; documents: number }>;
  config: PretrainConfig;
  machine: string;
  validation: Array<{ step: number; loss: number }>;
};

/** The model card, written from the training record so its numbers are the run's own. */
function modelCard(record: TrainingRecord, config: ModelConfig): string {
  const { config: training } = record;
  const sources = record.sources
    .map((s) => `- \`${s.package}\` ${s.version}: ${s.files.map((f) => `\`${f.path}\``).join(', ')} (${(s.files.reduce((n, f) => n + f.bytes, 0) / 1e6).toFixed(1)} MB, ${s.documents} documents)`)
    .join('\n');
  return `# elder-tiny

elder's embedded default model: a small GPT-2 trained from scratch by elder's own engine
(\`npm run train:tiny\`), so that elder works out of the box where no pretrained weights
can be downloaded. Every elder command uses it when \`--model\` is not given.

| | |
|---|---|
| Architecture | GPT-2: ${config.layers} blocks, width ${config.width}, ${config.heads} heads, MLP ${config.ffnWidth}, context ${config.contextLength}, tied embeddings |
| Parameters | ${record.parameters.toLocaleString('en-US')} (${(record.weightsBytes / 1e6).toFixed(1)} MB as F16 safetensors) |
| Tokenizer | the real GPT-2 BPE (\`tokenizer.json\`, 50,257 tokens) |
| Training | ${training.totalSteps} steps × ${training.batchSize} windows × ${training.windowLength} tokens = ${(record.tokensSeen / 1e6).toFixed(2)}M tokens (${(record.tokensSeen / record.trainTokens).toFixed(2)} epochs); AdamW (β 0.9/0.95, weight decay ${training.weightDecay} on matrices), lr ${training.maxLr} with ${training.warmupSteps} warm-up steps and cosine decay to ${training.minLr}, gradient clipping at ${training.clipNorm}, seed ${training.seed} |
| Validation | loss **${record.finalValidationLoss.toFixed(3)}** nats/token, perplexity **${record.finalValidationPerplexity.toFixed(1)}**, on ${record.validationTokens.toLocaleString('en-US')} held-out tokens (every 50th document) |
| Time | ${(record.trainingSeconds / 60).toFixed(1)} minutes on ${record.machine} |

## Data

${record.documents.toLocaleString('en-US')} documents from Debian packages (${(record.trainTokens / 1e6).toFixed(2)}M training tokens):

${sources}

WordNet synsets become one short paragraph each: the gloss as a sentence ("A violin is a
bowed stringed instrument…", "To run is to …", "Paris: the capital and largest city of
France.") followed by its quoted usage examples. Fortunes are kept whole with whitespace
collapsed. Documents end with \`<|endoftext|>\`. WordNet 3.0 is under the WordNet license
(free use and redistribution); the fortunes are from the BSD fortune collection.

## What it can and cannot know

It has read definitions, not encyclopedia articles or conversations: it continues
dictionary-style sentences plausibly, knows some words' categories ("a member of the genus
…", "a small …"), and is otherwise fluent-sounding nonsense. It knows almost no facts about
the world beyond what glosses state, cannot answer questions reliably, and should not be
used for anything but exercising elder: editing, evaluation and serving on a real model
with real tokens, in seconds on a CPU.

![loss curve](loss-curve.svg)

Reproduce: \`npm run train:tiny\` (interrupt and rerun to resume; \`--steps N\` to change the budget).
`;
}

/** GPT-2 initialisation: N(0, 0.02), with residual projections scaled by 1/√(2·layers). */
function initialisedModel(config: ModelConfig, seed: number) {
  const model = randomModel(config, seed, 0.02);
  const residualScale = 1 / Math.sqrt(2 * config.layers);
  for (const [name, tensor] of model.parameters) {
    if (/c_proj\.weight$/.test(name)) for (let i = 0; i < tensor.size; i++) tensor.data[i] *= residualScale;
  }
  return model;
}

function writeLossCurve(file: string, state: TrainerState): void {
  // Average training loss over blocks of steps so the curve shows the trend, not the batch noise.
  const block = Math.max(1, Math.floor(state.history.length / 200));
  const smoothed = [];
  for (let i = 0; i + block <= state.history.length; i += block) {
    const slice = state.history.slice(i, i + block);
    smoothed.push({ x: slice[slice.length - 1].step, y: slice.reduce((sum, r) => sum + r.loss, 0) / slice.length });
  }
  const svg = lineChart(
    [
      { name: 'training', points: smoothed },
      { name: 'validation', points: state.validation.map((v) => ({ x: v.step, y: v.loss })) },
    ],
    { title: 'elder-tiny: next-token loss', xLabel: 'step', yLabel: 'cross-entropy (nats)' },
  );
  writeFileAtomic(file, [Buffer.from(svg)]);
}

try {
  main();
} catch (error) {
  if (error instanceof ElderError || error instanceof Error) {
    console.error(`train:tiny: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
