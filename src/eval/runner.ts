/**
 * The lifelong-editing benchmark: every method edits the same frozen model
 * through the same stream of edits, measured by the same metrics.
 *
 * Interrupted runs resume (progress.ts): a rerun with the same settings
 * skips the methods it finished. The report files are written only once
 * every method has finished.
 */

import os from 'node:os';
import { padTokenId } from '../editors/common/batch.js';
import type { EditorResources } from '../editors/common/resources.js';
import { scoreTargets, type TargetItem } from '../editors/common/scoring.js';
import { type TokenizedEdit, tokenizeEdit } from '../editors/edit.js';
import type { Editor } from '../editors/editor.js';
import { withAnswerEndings } from '../editors/ending.js';
import { CovarianceCache, cachedCovariances } from '../editors/locate/covariance.js';
import { checkEditsFor, createEditor, type MethodName, type MethodSettings, methodIsSeeded, methodNeeds } from '../editors/registry.js';
import { COVARIANCE_TOKENS, covarianceText } from '../facts/covariance-text.js';
import { generalTextIds, readGeneralText } from '../facts/general-text.js';
import type { DecoderLM } from '../models/decoder.js';
import { weightsFingerprint } from '../models/fingerprint.js';
import { loadModel } from '../models/load.js';
import { requireTokenizer, type TextTokenizer } from '../models/tokenizer.js';
import { backendInfo } from '../tensor/backends/index.js';
import { tokenWindows } from '../train/dataset.js';
import { InputError, UsageError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { embedCodes } from './code-embedding.js';
import { type LocalityPrompt, readDataset, readLocalityFile } from './datasets.js';
import { type AnswerItem, type GenerationProbe, scoreGenerations, subjectPrompts } from './generation.js';
import { greedyContinuations, greedyText, mean, rate, textLoss } from './metrics.js';
import { type RunIdentity, RunProgress } from './progress.js';
import { buildStream, type StreamRecord } from './protocol.js';
import { writeReport } from './report.js';
import { type BenchResults, EARLY_RECORDS, GENERATION_TOKENS, type MethodResult, type RetentionPoint } from './results.js';
import { BaseTaskCache, tasksHash } from './tasks/base-cache.js';
import { readTasks } from './tasks/read-tasks.js';
import { scoreTasks, type TaskScore } from './tasks/run-tasks.js';
import type { Task } from './tasks/task-file.js';

/** A run: what makes it the run it is (progress.ts), and what it runs and where it writes. */
export interface BenchOptions extends Omit<RunIdentity, 'tasksHash'> {
  methods: MethodName[];
  outDir: string;
  /**
   * Output folders of other runs of the same benchmark (same data and
   * settings, other methods), whose finished methods this run takes instead of
   * running them: methods run side by side as separate processes, then one run
   * writes the report of them all.
   */
  mergeFrom?: string[];
  /** General-task files and folders (tasks/read-tasks.ts), measured on the base model and after each method's stream. */
  taskPaths?: string[];
  /** At most this many examples per task (quick runs). */
  taskLimit?: number;
}

/** Unrelated prompts whose routing the per-batch diagnostics follow. */
const DIAGNOSTIC_PROMPTS = 64;

/** Windows of held-out general text (128 tokens each, or the context) whose perplexity each method keeps. */
const GENERAL_TEXT_WINDOWS = 64;

const PROTOCOL =
  'first N records with ≥ 1 rephrasing; prompts [prompt, ...rephrases] split into the first ⌈n/2⌉ (edited, one label per record) and the rest (held out); edits applied in file order in batches; locality = identical greedy continuation to the base model';

/** Runs (or resumes) the benchmark and writes results.json, report.md and the plots into `outDir`. */
export function runBenchmark(options: BenchOptions, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): BenchResults {
  validateOptions(options);
  const prepared = prepareRun(options, log);
  // Every method's refusal of an edit comes before any method trains.
  for (const method of options.methods) checkEditsFor(method, prepared.inputs.edits);
  // The tasks join the run's identity only when given, so that runs saved before tasks existed still resume.
  const { tasks } = prepared.inputs;
  const progress = RunProgress.open(tasks.length === 0 ? options : { ...options, tasksHash: tasksHash(tasks) }, log);
  const { base, heldOutKnown, baseContinuations, baseTasks } = measureBase(prepared, log);
  const inputs: RunInputs = { ...prepared.inputs, heldOutKnown, baseContinuations, baseTasks, resources: methodResources(prepared, log), log };
  for (const method of options.methods) {
    if (progress.finished(method) !== undefined) {
      log(`${method}: finished in an earlier run, kept`);
      continue;
    }
    progress.record(runMethod(method, inputs));
  }
  const results = assembleResults(
    prepared,
    base,
    options.methods.map((method) => progress.finished(method)!),
  );
  writeReport(options.outDir, results);
  return results;
}

/** A run's model, data and prompts, tokenized before any work so that a bad record fails fast and names itself. */
interface PreparedRun {
  inputs: Omit<RunInputs, 'resources' | 'log' | 'heldOutKnown' | 'baseContinuations' | 'baseTasks'>;
  tokenizer: TextTokenizer;
  dataset: ReturnType<typeof readDataset>;
  skipped: number;
  /** Per held-out rephrasing, the fact as it was (null where the record does not say). */
  heldOutTrue: Array<TargetItem | null>;
}

function prepareRun(options: BenchOptions, log: (line: string) => void): PreparedRun {
  // Task files are checked whole before the model loads.
  const tasks = options.taskPaths === undefined ? [] : readTasks(options.taskPaths, options.taskLimit);
  const loaded = loadModel(options.modelDir);
  const model = loaded.model;
  const tokenizer = requireTokenizer(loaded.tokenizer, options.modelDir);
  const dataset = readDataset(options.dataFile, options.format);
  const { stream, skipped } = buildStream(dataset.records, options.edits);
  if (stream.length === 0)
    throw new InputError(`${options.dataFile}: no record has a rephrasing, so none can be used (the protocol holds rephrasings out for generalization)`);
  if (stream.length < options.edits) log(`note: only ${stream.length} of the requested ${options.edits} records have a rephrasing; using ${stream.length}`);
  const tokenized = stream.flatMap((record) => record.edits.map((edit) => tokenizeEdit(tokenizer, model.config, edit)));
  // Every edit carries the base model's ending after its own answer; methods that train endings read it.
  const edits: TokenizedEdit[] = withAnswerEndings(model, tokenizer, tokenized);
  const heldOut: TokenizedEdit[] = stream.flatMap((record) =>
    record.heldOut.map((prompt, i) => tokenizeEdit(tokenizer, model.config, { id: `${record.id}~${i + 1}`, label: record.id, prompt, target: record.target })),
  );
  // The same rephrasings asked for the fact as it was, where the record says what that is: which of them does the base model understand?
  const heldOutTrue: Array<TargetItem | null> = stream.flatMap((record) =>
    record.heldOut.map((prompt) =>
      record.trueTarget === undefined ? null : tokenizeEdit(tokenizer, model.config, { id: record.id, label: record.id, prompt, target: record.trueTarget }),
    ),
  );
  const generationProbe = probeOf(stream, edits, heldOut, (text) => tokenizer.encode(text), model.config.contextLength);
  const localityPrompts = collectLocality(stream, options.localityFile);
  const localityIds = localityPrompts.map((item, i) => {
    const ids = tokenizer.encode(item.prompt);
    if (ids.length === 0) throw new InputError(`locality prompt ${i + 1} encodes to no tokens`);
    if (ids.length + options.localityTokens > model.config.contextLength)
      throw new InputError(
        `locality prompt ${i + 1} ("${item.prompt.slice(0, 40)}…") with ${options.localityTokens} continuation tokens exceeds the context of ${model.config.contextLength}`,
      );
    return ids;
  });
  // Retention: the locality prompts that state a fact, scored on their answer; and held-out general text.
  const factItems: TargetItem[] = localityPrompts.flatMap((item, i) =>
    item.answer === undefined
      ? []
      : [tokenizeEdit(tokenizer, model.config, { id: `locality ${i + 1}`, label: `locality ${i + 1}`, prompt: item.prompt, target: item.answer })],
  );
  const generalWindows = tokenWindows(
    generalTextIds(readGeneralText(), (text) => tokenizer.encode(text), padTokenId(model.config)),
    Math.min(128, model.config.contextLength),
    GENERAL_TEXT_WINDOWS,
  );
  const inputs = {
    options,
    model,
    stream,
    edits,
    heldOut,
    localityIds,
    factItems,
    generalWindows,
    generationProbe,
    generateText: (editor: Editor) => greedyText(model, editor, tokenizer),
    tasks,
    scoreTasks: (editor: Editor | null, who: string) => scoreTasksShowing(tasks, model, editor, tokenizer, who),
  };
  return { inputs, tokenizer, dataset, skipped, heldOutTrue };
}

/** The unedited model on every measure (and what methods are compared against: its knowledge of the held-out facts, its locality continuations). */
function measureBase(
  prepared: PreparedRun,
  log: (line: string) => void,
): { base: BenchResults['base']; heldOutKnown: Array<boolean | null>; baseContinuations: number[][]; baseTasks: TaskScore[] } {
  const { model, edits, heldOut, localityIds, factItems, generalWindows, generationProbe, options } = prepared.inputs;
  log(`base model: ${edits.length} edit prompts, ${heldOut.length} held-out, ${localityIds.length} locality prompts`);
  const reliability = rate(scoreTargets(model, null, edits).correct);
  const generalization = heldOut.length > 0 ? rate(scoreTargets(model, null, heldOut).correct) : NaN;
  const heldOutKnown = baseKnowledgeOf(model, prepared.heldOutTrue);
  const asked = heldOutKnown.filter((known) => known !== null);
  const baseContinuations = greedyContinuations(model, null, localityIds, options.localityTokens);
  const uneditedFacts = factItems.length > 0 ? rate(scoreTargets(model, null, factItems).correct) : NaN;
  const perplexity = Math.exp(textLoss(model, null, generalWindows));
  const generation = scoreGenerations(generationProbe, greedyText(model, null, prepared.tokenizer), generationProgress('base model'));
  const baseTasks = baseTaskScores(prepared, log);
  const base = {
    reliability,
    generalization,
    uneditedFacts,
    perplexity,
    ...(asked.length > 0 ? { heldOutTrue: { prompts: asked.length, known: rate(asked) } } : {}),
    generation,
    ...(baseTasks.length === 0 ? {} : { tasks: Object.fromEntries(baseTasks.map((t) => [t.task, t.score])) }),
  };
  return { base, heldOutKnown, baseContinuations, baseTasks };
}

/** What methods need besides the model: the tokenizer, key covariances (cached, or measured once on the model as loaded), training phrasings. */
function methodResources(prepared: PreparedRun, log: (line: string) => void): EditorResources {
  const { options, model, stream } = prepared.inputs;
  const { tokenizer, dataset } = prepared;
  const resources: EditorResources = {
    encode: (text) => tokenizer.encode(text),
    note: log,
    ...(options.methods.some((m) => methodNeeds(m).includes('keyCovariances'))
      ? {
          keyCovariances: cachedCovariances(
            model,
            new CovarianceCache(),
            covarianceText({
              modelDir: options.modelDir,
              tokenizer,
              endOfText: padTokenId(model.config),
              windowLength: Math.min(128, model.config.contextLength),
              tokens: COVARIANCE_TOKENS,
            }),
            log,
          ),
        }
      : {}),
  };
  // The training split: phrasings of the records after the last one the stream takes (their locality prompts may be the stream's own, so they are left out).
  const unused = dataset.records.slice(dataset.records.findIndex((record) => record.id === stream.at(-1)?.id) + 1);
  if (unused.length > 0)
    resources.trainingPhrasings = unused.map((record) =>
      [record.prompt, ...record.rephrases].map((text) => tokenizer.encode(text)).filter((ids) => ids.length > 0),
    );
  return resources;
}

function assembleResults(prepared: PreparedRun, base: BenchResults['base'], methods: MethodResult[]): BenchResults {
  const { options, model, stream, edits, heldOut, localityIds, factItems, generalWindows } = prepared.inputs;
  const backend = backendInfo();
  return {
    complete: true,
    createdAt: new Date().toISOString(),
    model: {
      dir: options.modelDir,
      architecture: model.config.architecture,
      layers: model.config.layers,
      width: model.config.width,
      parameters: model.parameterCount(),
    },
    data: {
      file: options.dataFile,
      format: prepared.dataset.format,
      records: stream.length,
      editPrompts: edits.length,
      heldOutPrompts: heldOut.length,
      localityPrompts: localityIds.length,
      skippedWithoutRephrase: prepared.skipped,
    },
    protocol: PROTOCOL,
    settings: {
      batchSize: options.batchSize,
      evalEvery: options.evalEvery,
      seed: options.seed,
      localityTokens: options.localityTokens,
      methods: options.methods,
    },
    machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, ${backend.backend} backend, ${backend.threads} threads, Node ${process.version}`,
    base,
    retentionData: { factPrompts: factItems.length, generalTextTokens: generalWindows.length * (generalWindows[0]?.length ?? 0) },
    methods,
  };
}

/** What every method of a run is measured on: the same model, stream and prompts. */
interface RunInputs {
  options: BenchOptions;
  model: DecoderLM;
  stream: StreamRecord[];
  /** Edited prompts, in stream order. */
  edits: TokenizedEdit[];
  /** Held-out rephrasings (generalization). */
  heldOut: TokenizedEdit[];
  /** Per held-out rephrasing: does the base model answer it with the fact's true object (null where the record names none)? */
  heldOutKnown: Array<boolean | null>;
  /** Locality prompts, tokenized. */
  localityIds: number[][];
  /** The base model's greedy continuation of each locality prompt. */
  baseContinuations: number[][];
  /** Locality prompts that state a fact, with their answer as target. */
  factItems: TargetItem[];
  /** Held-out general text in equal windows. */
  generalWindows: number[][];
  /** The prompts whose greedy generations are measured. */
  generationProbe: GenerationProbe;
  /** Greedy text of a prompt under an editor. */
  generateText: (editor: Editor) => (promptIds: readonly number[], tokens: number) => string;
  /** General tasks (none without --tasks), and the base model's scores on them. */
  tasks: Task[];
  baseTasks: TaskScore[];
  /** Scores the tasks under an editor (null: the base model), with progress shown as `who`'s. */
  scoreTasks: (editor: Editor | null, who: string) => TaskScore[];
  /** What methods need besides the model (key covariances, the tokenizer). */
  resources: EditorResources;
  log: (line: string) => void;
}

function runMethod(method: MethodName, inputs: RunInputs): MethodResult {
  const { options, model, stream, edits, heldOut, heldOutKnown, localityIds, generalWindows, resources, log } = inputs;
  const settings = methodIsSeeded(method, model) ? withSeed(options.settings, method, options.seed) : options.settings;
  const { editor, config } = createEditor(method, model, settings, resources);
  const display = new Progress(edits.length, method);
  const retention: RetentionPoint[] = [];
  const diagnostics: NonNullable<MethodResult['diagnostics']> = [];
  const earlyIds = new Set(stream.slice(0, EARLY_RECORDS).flatMap((record) => record.edits.map((e) => e.id)));
  // A fixed sample of unrelated prompts whose routing the diagnostics follow.
  const probePrompts = localityIds.filter((_, i) => i % Math.max(1, Math.floor(localityIds.length / DIAGNOSTIC_PROMPTS)) === 0).slice(0, DIAGNOSTIC_PROMPTS);
  let editSeconds = 0;
  let lastReliability = NaN;
  let applied = 0;
  for (let start = 0; start < edits.length; start += options.batchSize) {
    const batch = edits.slice(start, start + options.batchSize);
    const began = performance.now();
    const { loss } = editor.applyBatch(batch, ({ iteration, loss: stepLoss }) =>
      display.update(applied, `batch loss ${stepLoss.toFixed(3)} (iteration ${iteration})`, { transient: true }),
    );
    editSeconds += (performance.now() - began) / 1000;
    const before = applied;
    applied += batch.length;
    if (editor.diagnose !== undefined) diagnostics.push({ edits: applied, ...editor.diagnose(probePrompts) });
    if (Math.floor(applied / options.evalEvery) > Math.floor(before / options.evalEvery) || applied === edits.length) {
      const soFar = edits.slice(0, applied);
      const correct = scoreTargets(model, editor, soFar).correct;
      lastReliability = rate(correct);
      retention.push({ edits: applied, reliability: lastReliability, early: rate(correct.filter((_, i) => earlyIds.has(soFar[i].id))) });
    }
    display.update(applied, `loss ${loss.toFixed(3)} · reliability so far ${Number.isNaN(lastReliability) ? '–' : lastReliability.toFixed(3)}`, {
      final: applied === edits.length,
    });
  }
  const final = measureEdited(editor, inputs);
  const result: MethodResult = {
    method,
    config,
    editsApplied: edits.length,
    reliability: rate(final.reliability.correct),
    reliabilityTokens: mean(final.reliability.tokenAccuracy),
    generalization: heldOut.length > 0 ? rate(final.generalization.correct) : NaN,
    generalizationTokens: heldOut.length > 0 ? mean(final.generalization.tokenAccuracy) : NaN,
    ...splitByBase(final.generalization.correct, heldOutKnown),
    locality: localityIds.length > 0 ? rate(final.unchanged) : NaN,
    uneditedFacts: final.uneditedFacts,
    perplexity: Math.exp(textLoss(model, editor, generalWindows)),
    generation: scoreGenerations(inputs.generationProbe, inputs.generateText(editor), generationProgress(method)),
    ...taskResults(inputs, editor, method),
    retention,
    secondsPerEdit: editSeconds / edits.length,
    addedParameters: editor.addedParameters(),
  };
  if (diagnostics.length > 0) result.diagnostics = diagnostics;
  const gate = editor.gateRadius;
  if (gate !== undefined && options.gateRadii !== undefined && options.gateRadii.length > 0) {
    const trained = gate.value;
    result.gateRadius = trained;
    result.gateSweep = options.gateRadii.map((radius) => {
      gate.set(radius);
      log(`${method}: measuring gate radius ${radius}`);
      const at = measureEdited(editor, inputs);
      return {
        radius,
        reliability: rate(at.reliability.correct),
        generalization: heldOut.length > 0 ? rate(at.generalization.correct) : NaN,
        ...splitByBase(at.generalization.correct, heldOutKnown),
        locality: localityIds.length > 0 ? rate(at.unchanged) : NaN,
        uneditedFacts: at.uneditedFacts,
      };
    });
    gate.set(trained);
  }
  const routing = editor.codeRouting;
  if (routing !== undefined) {
    result.codeEmbedding = embedCodes(routing, stream, edits, heldOut, localityIds, options.seed);
    result.codeDistances = {
      heldOut: routing.codeDistancesOf(heldOut.map((e) => e.promptIds)),
      unrelated: routing.codeDistancesOf(localityIds),
      epsilon: routing.epsilon,
    };
  }
  // The next method edits the same loaded model: put back whatever this one wrote into it.
  editor.baseWeightEdits?.restore();
  log(
    `${method}: reliability ${result.reliability.toFixed(3)}, generalization ${result.generalization.toFixed(3)}, locality ${result.locality.toFixed(3)}, ${result.secondsPerEdit.toFixed(2)} s/edit`,
  );
  return result;
}

/**
 * The edited model on the benchmark's fixed prompts after the stream: scores
 * of the edited prompts and of the rephrasings, per locality prompt whether
 * its greedy continuation is the base model's token for token, and the share
 * of other facts still answered.
 */
function measureEdited(editor: Editor, { model, edits, heldOut, localityIds, baseContinuations, factItems, options }: RunInputs) {
  const continuations = greedyContinuations(model, editor, localityIds, options.localityTokens);
  return {
    reliability: scoreTargets(model, editor, edits),
    generalization: scoreTargets(model, editor, heldOut),
    unchanged: continuations.map((ids, i) => ids.length === baseContinuations[i].length && ids.every((id, t) => id === baseContinuations[i][t])),
    uneditedFacts: factItems.length > 0 ? rate(scoreTargets(model, editor, factItems).correct) : NaN,
  };
}

/**
 * What the generation metrics read: every edited prompt and held-out
 * rephrasing with its target, and prompts about each record's subject (its
 * generation prompts, or {@link subjectPrompts}); prompts that leave no room
 * for {@link GENERATION_TOKENS} are left out.
 */
function probeOf(
  stream: readonly StreamRecord[],
  edits: readonly TokenizedEdit[],
  heldOut: readonly TokenizedEdit[],
  encode: (text: string) => number[],
  context: number,
): GenerationProbe {
  const fits = (ids: readonly number[]) => ids.length > 0 && ids.length + GENERATION_TOKENS <= context;
  const item = (edit: TokenizedEdit): AnswerItem => ({ promptIds: edit.promptIds, target: edit.target });
  const subject = stream.flatMap((record) => {
    const prompts = record.generationPrompts ?? (record.subject === undefined ? [] : subjectPrompts(record.subject));
    return prompts.map(encode).filter(fits);
  });
  return {
    edited: edits.filter((e) => fits(e.promptIds)).map(item),
    heldOut: heldOut.filter((e) => fits(e.promptIds)).map(item),
    subject,
    tokens: GENERATION_TOKENS,
  };
}

/** The base model's task scores: from the cache for this model and these tasks, or measured and cached. */
function baseTaskScores(prepared: PreparedRun, log: (line: string) => void): TaskScore[] {
  const { tasks, model } = prepared.inputs;
  if (tasks.length === 0) return [];
  const cache = new BaseTaskCache();
  const fingerprint = weightsFingerprint(model);
  const cached = cache.read(fingerprint, tasks);
  if (cached !== undefined) {
    log(`base model: task scores from ${cache.fileFor(fingerprint, tasks)}`);
    return cached;
  }
  const scores = prepared.inputs.scoreTasks(null, 'base model');
  cache.write(fingerprint, tasks, scores);
  return scores;
}

/** A method's task scores after its stream, beside the base model's, and their means (the paper's Table 2). */
function taskResults(inputs: RunInputs, editor: Editor, method: string): Pick<MethodResult, 'tasks' | 'taskRetention'> {
  if (inputs.tasks.length === 0) return {};
  const after = inputs.scoreTasks(editor, method);
  const tasks = Object.fromEntries(after.map((t, i) => [t.task, { before: inputs.baseTasks[i].score, after: t.score }]));
  return { tasks, taskRetention: { after: mean(after.map((t) => t.score)), base: mean(inputs.baseTasks.map((t) => t.score)) } };
}

/** Scores the tasks with a progress display over their examples. */
function scoreTasksShowing(tasks: readonly Task[], model: DecoderLM, editor: Editor | null, tokenizer: TextTokenizer, who: string): TaskScore[] {
  const total = tasks.reduce((n, t) => n + t.examples.length, 0);
  const display = new Progress(total, `${who}: tasks`);
  let done = 0;
  const scores = scoreTasks(tasks, model, editor, tokenizer, () => {
    done++;
    display.update(done, '', { final: done === total });
  });
  return scores;
}

/** A progress display for the generations of `who` (created on the first report). */
function generationProgress(who: string): (done: number, total: number) => void {
  let display: Progress | undefined;
  return (done, total) => {
    display ??= new Progress(total, `${who}: generations`);
    display.update(done, 'greedy', { final: done === total });
  };
}

/** Per item: does the unedited model give its whole target (null for a missing item)? */
function baseKnowledgeOf(model: DecoderLM, items: ReadonlyArray<TargetItem | null>): Array<boolean | null> {
  const asked = items.filter((item): item is TargetItem => item !== null);
  const correct = asked.length > 0 ? scoreTargets(model, null, asked).correct : [];
  let next = 0;
  return items.map((item) => (item === null ? null : correct[next++]));
}

/** Generalization over the rephrasings the base model understands for the true fact, and over the rest; nothing where no record names a true object. */
function splitByBase(correct: readonly boolean[], known: ReadonlyArray<boolean | null>): Pick<MethodResult, 'generalizationByBase'> {
  const share = (wanted: boolean) => rate(correct.filter((_, i) => known[i] === wanted));
  return known.some((k) => k !== null) ? { generalizationByBase: { known: share(true), unknown: share(false) } } : {};
}

/** The run's seed for a seeded method, unless the settings name one. */
function withSeed(settings: MethodSettings, method: MethodName, seed: number): MethodSettings {
  return { ...settings, [method]: { seed, ...(settings[method] ?? {}) } };
}

function collectLocality(stream: StreamRecord[], localityFile: string | undefined): LocalityPrompt[] {
  const prompts = localityFile !== undefined ? readLocalityFile(localityFile) : stream.flatMap((record) => record.locality);
  const seen = new Set<string>();
  return prompts.filter((item) => {
    if (seen.has(item.prompt)) return false;
    seen.add(item.prompt);
    return true;
  });
}

function validateOptions(options: BenchOptions): void {
  const positive = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name} must be a positive integer, got ${value}`);
  };
  positive('edits', options.edits);
  positive('batch', options.batchSize);
  positive('eval-every', options.evalEvery);
  if (!Number.isInteger(options.localityTokens) || options.localityTokens < 1) throw new UsageError(`--locality-tokens must be a positive integer`);
  if (options.methods.length === 0) throw new UsageError('--methods names no method');
  for (const radius of options.gateRadii ?? [])
    if (!Number.isFinite(radius) || radius <= 0) throw new UsageError(`--gate-radii must list numbers > 0, got ${radius}`);
}
