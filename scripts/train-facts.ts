/**
 * `npm run train:facts`: trains elder-facts, elder's default model, from
 * scratch: a small GPT-2 that has learned the real facts of
 * `bench/data/facts/facts.json` in their training phrasings, mixed with
 * general English text from Debian (WordNet glosses, fortunes) so that it
 * stays a language model. Writes a Hugging Face-layout folder (F16 weights,
 * a byte-level BPE tokenizer cut down to the corpus's tokens), its loss
 * curve, a training record and the model card.
 *
 * Interrupt it (Ctrl-C, or kill) and run it again: it resumes from the last
 * checkpoint in the work folder, with the same tokenizer and data.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { elderConfig } from '../src/editors/elder/config.js';
import { querySiteOf } from '../src/editors/elder/core-config.js';
import { type KnowledgeReport, measureKnowledge } from '../src/facts/knowledge.js';
import { readFactTable, trainingSentences } from '../src/facts/table.js';
import { type ModelConfig, parseConfig } from '../src/models/config.js';
import type { DecoderLM } from '../src/models/decoder.js';
import { randomModel, saveModel } from '../src/models/load.js';
import { TextTokenizer } from '../src/models/tokenizer.js';
import { lineChart } from '../src/plot/svg.js';
import { backendInfo } from '../src/tensor/backends/index.js';
import { loadDebianCorpus } from '../src/train/corpus.js';
import { mixedTokenSplit } from '../src/train/dataset.js';
import { type PretrainConfig, pretrain, type TrainerState } from '../src/train/pretrain.js';
import { slowTokenizerFiles, subsetTokenizer, type TokenizerJson } from '../src/train/tokenizer-subset.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { ElderError } from '../src/util/errors.js';
import { formatSeconds, Progress } from '../src/util/progress.js';
import { type FactsTrainingRecord, modelCard } from './facts-model-card.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Tokens used fewer times than this in the corpus are left to smaller pieces. */
const MIN_TOKEN_COUNT = 64;

/**
 * Eight blocks of width 256 (8 heads of 32), context 128, tied embeddings.
 * ELDER's default edits blocks 5–6 of it and reads its query in block 4
 * (`defaultBlockRange`). Eight rather than six: on the six-block model the
 * separation at the query grew with the block it was read in (62, 77, 79, 80%
 * at blocks 2–5), and a deeper model puts the query further from the
 * embeddings at the same relative depth.
 */
function modelConfigJson(vocabSize: number, endOfText: number) {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: vocabSize,
    n_positions: 128,
    n_embd: 256,
    n_layer: 8,
    n_head: 8,
    n_inner: 1024,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    bos_token_id: endOfText,
    eos_token_id: endOfText,
    tie_word_embeddings: true,
  };
}

interface Options {
  steps: number;
  factRepeats: number;
  out: string;
  work: string;
  tokenizer: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    steps: 7000,
    factRepeats: 6,
    out: path.join(root, 'models/elder-facts'),
    work: path.join(root, '.elder-cache/train-facts'),
    tokenizer: '',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new ElderError(`${flag} needs a value`);
    if (flag === '--steps') options.steps = Number(value);
    else if (flag === '--fact-repeats') options.factRepeats = Number(value);
    else if (flag === '--out') options.out = path.resolve(value);
    else if (flag === '--work') options.work = path.resolve(value);
    else if (flag === '--tokenizer') options.tokenizer = path.resolve(value);
    else throw new ElderError(`unknown option ${flag} (known: --steps N, --fact-repeats N, --out DIR, --work DIR, --tokenizer DIR)`);
  }
  if (!Number.isInteger(options.steps) || options.steps < 1) throw new ElderError('--steps must be a positive integer');
  if (!Number.isInteger(options.factRepeats) || options.factRepeats < 1) throw new ElderError('--fact-repeats must be a positive integer');
  return options;
}

/** The full GPT-2 tokenizer the subset is cut from: --tokenizer, elder's copy, or the workplace's. */
function findGpt2Tokenizer(options: Options): string {
  const candidates = [options.tokenizer, path.join(root, 'models/gpt2-tokenizer'), path.join(root, '../shared/tokenizers/gpt2')].filter((dir) => dir !== '');
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'tokenizer.json')));
  if (found === undefined) throw new ElderError(`no GPT-2 tokenizer.json in ${candidates.join(', ')}; pass --tokenizer DIR`);
  return found;
}

/**
 * The training tokenizer, built once per work folder (a resumed run must see
 * the same ids): GPT-2's BPE restricted to the tokens the corpus uses.
 */
function trainingTokenizer(options: Options, texts: () => string[]): TextTokenizer {
  const dir = path.join(options.work, 'tokenizer');
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    const source = findGpt2Tokenizer(options);
    const full = TextTokenizer.load(source)!;
    const fullJson = JSON.parse(fs.readFileSync(path.join(source, 'tokenizer.json'), 'utf8')) as TokenizerJson;
    const counts = new Int32Array(Object.keys(fullJson.model.vocab).length + fullJson.added_tokens.length);
    for (const text of texts()) for (const id of full.encode(text)) counts[id]++;
    const { tokenizer, vocabSize } = subsetTokenizer(fullJson, counts, MIN_TOKEN_COUNT);
    const eot = tokenizer.added_tokens.find((t) => t.content === '<|endoftext|>')!.id;
    fs.mkdirSync(dir, { recursive: true });
    const { vocabJson, mergesTxt } = slowTokenizerFiles(tokenizer);
    writeFileAtomic(path.join(dir, 'tokenizer.json'), [Buffer.from(JSON.stringify(tokenizer))]);
    writeFileAtomic(path.join(dir, 'vocab.json'), [Buffer.from(vocabJson)]);
    writeFileAtomic(path.join(dir, 'merges.txt'), [Buffer.from(mergesTxt)]);
    const special = { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' };
    writeFileAtomic(path.join(dir, 'special_tokens_map.json'), [Buffer.from(`${JSON.stringify(special, null, 2)}\n`)]);
    writeFileAtomic(path.join(dir, 'tokenizer_config.json'), [
      Buffer.from(`${JSON.stringify({ ...special, model_max_length: 128, add_prefix_space: false, tokenizer_class: 'GPT2Tokenizer' }, null, 2)}\n`),
    ]);
    console.log(
      `tokenizer: GPT-2 BPE cut to ${vocabSize} tokens (every token used ≥ ${MIN_TOKEN_COUNT} times, their merge parts, the 256 bytes, <|endoftext|> = ${eot})`,
    );
  }
  return TextTokenizer.load(dir)!;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const table = readFactTable();
  const sentences = trainingSentences(table);
  const corpus = loadDebianCorpus();
  const tokenizer = trainingTokenizer(options, () => [...corpus.documents, ...sentences]);
  const endOfText = tokenizer.encode('<|endoftext|>')[0];
  const started = performance.now();
  const data = mixedTokenSplit(corpus.documents, sentences, tokenizer, endOfText, { factRepeats: options.factRepeats, seed: 1234 });
  console.log(
    `corpus: ${corpus.documents.length} general documents (${data.generalTokens} training tokens, ${data.validation.length} validation) + ${sentences.length} fact sentences × ${options.factRepeats} (${data.factTokens} tokens), tokenized in ${formatSeconds((performance.now() - started) / 1000)}`,
  );

  const modelConfig: ModelConfig = parseConfig(modelConfigJson(tokenizer.vocabSize(), endOfText), 'elder-facts config');
  const config: PretrainConfig = {
    totalSteps: options.steps,
    warmupSteps: Math.min(200, Math.floor(options.steps / 10)),
    maxLr: 1.5e-3,
    minLr: 1e-4,
    batchSize: 8,
    windowLength: modelConfig.contextLength,
    weightDecay: 0.05,
    clipNorm: 1,
    seed: 1234,
    evalEvery: 250,
    evalWindows: 128,
    checkpointSeconds: 300,
  };
  // Separation is measured where ELDER's default configuration reads its router query.
  const querySite = (model: DecoderLM) => querySiteOf(model, elderConfig(model.config).core);
  const backend = backendInfo();
  console.log(
    `model: ${modelConfig.layers} blocks × ${modelConfig.width} wide, vocabulary ${modelConfig.vocabSize}, context ${modelConfig.contextLength}; ${config.totalSteps} steps of ${config.batchSize} × ${config.windowLength} tokens; backend ${backend.backend} with ${backend.threads} threads on ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
  );

  let stopRequested = false;
  const onSignal = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    console.log('\nstopping after this step and writing a checkpoint (signal again to abort)…');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // The recall probes of every run on this work folder (a resumed run continues the list).
  const probesFile = path.join(options.work, 'probes.json');
  const probes: Array<{ step: number; train: number; heldout: number }> = fs.existsSync(probesFile)
    ? (JSON.parse(fs.readFileSync(probesFile, 'utf8')) as Array<{ step: number; train: number; heldout: number }>)
    : [];
  let progress: Progress | null = null;
  const result = await pretrain(() => initialisedModel(modelConfig, config.seed), data, config, {
    checkpointDir: options.work,
    shouldStop: () => stopRequested,
    onProgress: (p, state, model) => {
      progress ??= new Progress(p.totalSteps, 'step', p.step - 1);
      let detail = '';
      if (p.validationLoss !== undefined) {
        // A quick look at recall on the first 30 facts of each relation.
        const probe = measureKnowledge(model, tokenizer, table, {
          trainTemplatesPerFact: 1,
          querySite: querySite(model),
          factsPerRelation: 30,
          batchSize: 16,
          separation: false,
        });
        probes.push({ step: p.step, train: probe.overall.train, heldout: probe.overall.heldout });
        writeFileAtomic(probesFile, [Buffer.from(`${JSON.stringify(probes)}\n`)]);
        detail = ` · validation ${p.validationLoss.toFixed(3)} (ppl ${Math.exp(p.validationLoss).toFixed(1)}) · facts ${(100 * probe.overall.train).toFixed(0)}% trained / ${(100 * probe.overall.heldout).toFixed(0)}% held-out phrasings`;
      }
      progress.update(
        p.step,
        `loss ${p.loss.toFixed(3)} · lr ${p.lr.toExponential(2)} · ${Math.round(p.tokensPerSecond)} tok/s${detail}${p.checkpointed === true ? ' · checkpoint' : ''}`,
        {
          transient: p.validationLoss === undefined && p.checkpointed !== true && p.step % 20 !== 0,
        },
      );
      if (p.checkpointed === true) writeLossCurve(path.join(options.work, 'loss-curve.svg'), state);
    },
  });
  if (result.resumedFrom > 0) console.log(`resumed from step ${result.resumedFrom}`);
  if (!result.finished) {
    console.log(`stopped at step ${result.state.step}; run the same command again to resume`);
    return;
  }

  const { state, model } = result;
  console.log('measuring what it knows (every fact, 3 training and 4 held-out phrasings each)…');
  const knowledgeProgress = new Progress(1, 'prompts');
  const knowledge: KnowledgeReport = measureKnowledge(model, tokenizer, table, {
    trainTemplatesPerFact: 3,
    querySite: querySite(model),
    batchSize: 32,
    separation: true,
    onProgress: (done, total) => knowledgeProgress.update(done / total, `${done}/${total}`),
  });
  const finalValidation = state.validation[state.validation.length - 1].loss;
  fs.mkdirSync(options.out, { recursive: true });
  saveModel(options.out, model, {
    dtype: 'F16',
    tokenizerFrom: path.join(options.work, 'tokenizer'),
    metadata: { 'elder.trained_by': 'npm run train:facts', 'elder.validation_loss': finalValidation.toFixed(4) },
  });
  writeLossCurve(path.join(options.out, 'loss-curve.svg'), state);
  writeKnowledgeCurve(path.join(options.out, 'knowledge-curve.svg'), probes);
  const record: FactsTrainingRecord = {
    parameters: model.parameterCount(),
    weightsBytes: fs.statSync(path.join(options.out, 'model.safetensors')).size,
    vocabSize: modelConfig.vocabSize,
    minTokenCount: MIN_TOKEN_COUNT,
    finalValidationLoss: finalValidation,
    finalValidationPerplexity: Math.exp(finalValidation),
    trainingSeconds: Math.round(state.trainingSeconds),
    tokensSeen: state.step * config.batchSize * config.windowLength,
    generalTokens: data.generalTokens,
    factTokens: data.factTokens,
    factRepeats: options.factRepeats,
    factSentences: sentences.length,
    facts: table.facts.length,
    validationTokens: data.validation.length,
    documents: corpus.documents.length,
    corpusSources: corpus.sources,
    factSources: table.sources,
    config,
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${backend.backend} backend, ${backend.threads} threads`,
    validation: state.validation,
    probes,
    knowledge,
  };
  writeFileAtomic(path.join(options.out, 'training.json'), [Buffer.from(`${JSON.stringify(record, null, 2)}\n`)]);
  writeFileAtomic(path.join(options.out, 'README.md'), [Buffer.from(modelCard(record, modelConfig))]);
  console.log(
    `wrote ${options.out}: ${record.parameters} parameters, ${(record.weightsBytes / 1e6).toFixed(1)} MB, validation perplexity ${record.finalValidationPerplexity.toFixed(1)}, facts ${(100 * knowledge.overall.train).toFixed(1)}% in training phrasings, ${(100 * knowledge.overall.heldout).toFixed(1)}% held-out, separation ${(100 * knowledge.overall.separation).toFixed(1)}%, ${formatSeconds(state.trainingSeconds)} of training`,
  );
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
      { name: 'training (general text and facts)', points: smoothed },
      { name: 'validation (held-out general text)', points: state.validation.map((v) => ({ x: v.step, y: v.loss })) },
    ],
    { title: 'elder-facts: next-token loss', xLabel: 'step', yLabel: 'cross-entropy (nats)' },
  );
  writeFileAtomic(file, [Buffer.from(svg)]);
}

function writeKnowledgeCurve(file: string, probes: ReadonlyArray<{ step: number; train: number; heldout: number }>): void {
  const svg = lineChart(
    [
      { name: 'training phrasings', points: probes.map((p) => ({ x: p.step, y: p.train })) },
      { name: 'held-out phrasings', points: probes.map((p) => ({ x: p.step, y: p.heldout })) },
    ],
    { title: 'elder-facts: fact recall during training (first 30 facts of each relation)', xLabel: 'step', yLabel: 'share answered', yRange: [0, 1] },
  );
  writeFileAtomic(file, [Buffer.from(svg)]);
}

main().catch((error: unknown) => {
  if (error instanceof ElderError) {
    console.error(`train:facts: ${error.message}`);
    process.exit(1);
  }
  throw error;
});
