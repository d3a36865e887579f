import path from 'node:path';
import { expandRequests, tokenizeEdit, tokenizeEdits } from '../../editors/edit.js';
import { EditFileError, readEditsFile } from '../../editors/edits-file.js';
import {
  ELDER_GATES,
  ELDER_PRESETS,
  type ElderConfig,
  type ElderGate,
  type ElderPreset,
  TRAIN_ROUTINGS,
  type TrainRouting,
} from '../../editors/elder/config.js';
import { QUERY_METRICS, type QueryMetric } from '../../editors/elder/gate.js';
import { ElderState } from '../../editors/elder/state.js';
import { withAnswerEndings } from '../../editors/ending.js';
import { resolveModelDir } from '../../models/default-model.js';
import { loadModel } from '../../models/load.js';
import { UsageError } from '../../util/errors.js';
import { Progress } from '../../util/progress.js';
import { type CommandSpec, MODEL_OPTION, numberOption, type OptionSpec, optionalString, type ParsedOptions, parseOptions, requireString } from '../args.js';
import { requireTokenizer } from '../model-input.js';

/** ELDER's settings on the command line (edit, serve); defaults are the chosen preset's. */
export const ELDER_OPTIONS: OptionSpec = {
  preset: { type: 'string', value: 'elder|paper', help: "ELDER's settings: elder's tuned default, or the paper's exact algorithm", default: 'elder' },
  batch: { type: 'string', value: 'N', help: 'edits trained together', default: '4' },
  iters: { type: 'string', value: 'N', help: 'optimisation steps per batch', default: '50' },
  lr: { type: 'string', value: 'X', help: 'Adam learning rate', default: 'elder 2e-3, paper 1e-4' },
  blocks: { type: 'string', value: 'a-b', help: 'first and last edited block', default: "the preset's rule for the model's depth" },
  layers: { type: 'string', value: 'a-b', help: 'older name of --blocks' },
  experts: { type: 'string', value: 'N', help: 'LoRA experts per edited layer', default: '4' },
  rank: { type: 'string', value: 'R', help: 'rank of each expert', default: 'elder 64, paper 8' },
  'top-k': { type: 'string', value: 'K', help: 'experts used per layer', default: '2' },
  lambda: { type: 'string', value: 'X', help: 'weight of the guided routing loss', default: '1e-2' },
  epsilon: { type: 'string', value: 'E', help: 'code distance at which an input defers to the base model', default: 'from the layers and experts' },
  seed: { type: 'string', value: 'S', help: 'seed of the allocations and initialisation', default: '0' },
  'early-stop': { type: 'boolean', help: 'stop a batch once every target is the greedy answer' },
  replay: { type: 'string', value: 'N', help: 'earlier edits rehearsed per iteration', default: 'elder 8, paper 0' },
  'train-routing': {
    type: 'string',
    value: 'router|preset',
    help: 'experts used while training: the router top-k or the preset allocation',
    default: 'router',
  },
  'fresh-codes': { type: 'boolean', help: 're-route stored codes after every batch (the elder preset does)' },
  'router-experts': {
    type: 'boolean',
    help: "subject gate: a matched input takes the router's top-k experts, not its matched edit's (the elder preset takes the edit's)",
  },
  gate: { type: 'string', value: 'code|subject', help: 'what decides between experts and the base model', default: 'elder subject, paper code' },
  'subject-radius': { type: 'string', value: 'X', help: "subject gate: radius around a subject's key, relative to the median key norm", default: '0.25' },
  'query-radius': {
    type: 'string',
    value: 'X',
    help: "subject gate: radius around an edit's gate query, relative to the median distance between edits (whitened) or the median query norm (euclidean)",
    default: '0.5 whitened, 0.4 euclidean',
  },
  'query-metric': { type: 'string', value: 'whitened|euclidean', help: 'subject gate: how query distance is measured', default: 'whitened up to 2,048 wide' },
  'gate-block': { type: 'string', value: 'N', help: "subject gate: block whose edited linear's input is the gate query", default: 'the first edited block' },
};

/** ELDER configuration given on the command line (only what was given). */
export function elderOverrides(options: ParsedOptions): Partial<ElderConfig> {
  const overrides: Partial<ElderConfig> = {};
  const int = (flag: string, key: keyof ElderConfig) => {
    if (options.values[flag] !== undefined) (overrides as Record<string, number>)[key] = numberOption(options, flag, 0, { min: 1, integer: true });
  };
  const real = (flag: string, key: keyof ElderConfig, min = 0) => {
    if (options.values[flag] !== undefined) (overrides as Record<string, number>)[key] = numberOption(options, flag, 0, { min });
  };
  int('batch', 'batchSize');
  int('iters', 'iterations');
  int('experts', 'experts');
  int('rank', 'rank');
  int('top-k', 'topK');
  real('lr', 'lr', Number.MIN_VALUE);
  real('lambda', 'lambda');
  real('epsilon', 'epsilon');
  if (options.values.seed !== undefined) overrides.seed = numberOption(options, 'seed', 0, { integer: true });
  if (options.values['early-stop']) overrides.earlyStop = true;
  if (options.values.replay !== undefined) overrides.replay = numberOption(options, 'replay', 0, { min: 0, integer: true });
  if (options.values['fresh-codes']) overrides.freshCodes = true;
  if (options.values['router-experts']) overrides.matchedExperts = false;
  real('subject-radius', 'subjectRadius', Number.MIN_VALUE);
  real('query-radius', 'queryRadius', Number.MIN_VALUE);
  if (options.values['gate-block'] !== undefined) overrides.gateBlock = numberOption(options, 'gate-block', 0, { min: 0, integer: true });
  const metric = optionalString(options, 'query-metric');
  if (metric !== undefined) {
    if (!(QUERY_METRICS as readonly string[]).includes(metric))
      throw new UsageError(`--query-metric must be one of ${QUERY_METRICS.join(', ')}, got "${metric}"`);
    overrides.queryMetric = metric as QueryMetric;
  }
  const gate = optionalString(options, 'gate');
  if (gate !== undefined) {
    if (!(ELDER_GATES as readonly string[]).includes(gate)) throw new UsageError(`--gate must be one of ${ELDER_GATES.join(', ')}, got "${gate}"`);
    overrides.gate = gate as ElderGate;
  }
  const preset = optionalString(options, 'preset');
  if (preset !== undefined) {
    if (!(ELDER_PRESETS as readonly string[]).includes(preset)) throw new UsageError(`--preset must be one of ${ELDER_PRESETS.join(', ')}, got "${preset}"`);
    overrides.preset = preset as ElderPreset;
  }
  const trainRouting = optionalString(options, 'train-routing');
  if (trainRouting !== undefined) {
    if (!(TRAIN_ROUTINGS as readonly string[]).includes(trainRouting))
      throw new UsageError(`--train-routing must be one of ${TRAIN_ROUTINGS.join(', ')}, got "${trainRouting}"`);
    overrides.trainRouting = trainRouting as TrainRouting;
  }
  const flag = options.values.blocks !== undefined ? 'blocks' : 'layers';
  Object.assign(overrides, blockRangeOption(options, flag));
  return overrides;
}

/** `--blocks a-b` (or its older name): ELDER's first and last edited block, or nothing when the flag is absent. */
export function blockRangeOption(options: ParsedOptions, flag: string): Partial<Pick<ElderConfig, 'firstBlock' | 'lastBlock'>> {
  const blocks = optionalString(options, flag);
  if (blocks === undefined) return {};
  const match = /^(\d+)-(\d+)$/.exec(blocks);
  if (!match) throw new UsageError(`--${flag} must look like a-b (first and last edited block), got "${blocks}"`);
  return { firstBlock: Number(match[1]), lastBlock: Number(match[2]) };
}

export const EDIT_COMMAND: CommandSpec = {
  name: 'edit',
  summary:
    'Applies the edits of a JSONL file to a state (created on first use), journaled so that an interrupted run resumes without losing an acknowledged edit.',
  options: {
    ...MODEL_OPTION,
    state: { type: 'string', value: 'DIR', help: 'the ELDER state folder', required: true },
    edits: { type: 'string', value: 'FILE.jsonl', help: 'one edit per line: {"prompt", "target", "id"?, "label"?, "subject"?, "rephrases"?}', required: true },
    ...ELDER_OPTIONS,
  },
  notes: 'ELDER settings are fixed when a state is created; giving different ones to an existing state is refused.',
};

export function editCommand(argv: string[]): void {
  const options = parseOptions(argv, EDIT_COMMAND);
  const modelDir = resolveModelDir(optionalString(options, 'model'));
  const stateDir = requireString(options, 'state', 'edit');
  const editsFile = requireString(options, 'edits', 'edit');
  const overrides = elderOverrides(options);
  const requests = readEditsFile(editsFile);

  const { model, tokenizer } = loadModel(modelDir);
  const tok = requireTokenizer(tokenizer, modelDir);
  const state = ElderState.open(stateDir, model, { modelName: path.basename(path.resolve(modelDir)), overrides });
  try {
    const expanded = expandRequests(requests, state.files.edits.size);
    const { tokenized, problems: tokenProblems } = tokenizeEdits(tok, model.config, expanded);
    const problems = [
      ...expanded.filter((edit) => state.files.edits.has(edit.id)).map((edit) => `edit id "${edit.id}" already exists in the state`),
      ...tokenProblems.map((p) => p.message),
    ];
    if (problems.length > 0) throw new EditFileError(`${editsFile}: nothing applied:\n  ${problems.join('\n  ')}`);
    const edits = state.config.trainEnding ? withAnswerEndings(model, tok, tokenized) : tokenized;

    const { batchSize, iterations } = state.config;
    const progress = new Progress(edits.length, 'edits');
    let done = 0;
    let held = 0;
    for (let start = 0; start < edits.length; start += batchSize) {
      const batch = edits.slice(start, start + batchSize);
      const record = state.applyBatch(batch, ({ iteration, loss }) =>
        progress.update(done, `batch of ${batch.length}, iteration ${iteration}/${iterations}, loss ${loss.toFixed(4)}`, { transient: true }),
      );
      done += batch.length;
      progress.update(done, `loss ${record.loss.toFixed(4)} after ${record.iterations} iterations`, { final: done === edits.length });
      const checks = state.verifyBatch(
        batch,
        (stored) => tokenizeEdit(tok, model.config, stored),
        (ids) => tok.decode(ids),
      );
      record.edits.forEach((edit, b) => {
        const check = checks.batch[b];
        process.stdout.write(
          `applied ${edit.id} experts ${JSON.stringify(edit.experts)} ${check.holds ? 'holds' : 'does not hold (the edited model does not answer with its target cleanly)'}: ${JSON.stringify(check.answer)}\n`,
        );
      });
      held += checks.batch.filter((c) => c.holds).length;
      if (checks.earlier.length > 0) {
        const lost = checks.earlier.filter((c) => !c.holds).map((c) => c.id);
        process.stdout.write(
          `rechecked ${checks.earlier.length} earlier edits: ${checks.earlier.length - lost.length} hold${lost.length > 0 ? `; no longer hold: ${lost.join(', ')}` : ''}\n`,
        );
      }
    }
    process.stdout.write(`${edits.length} edits applied, ${held} of them hold; ${state.editor.codebook.size} codes in ${stateDir}\n`);
  } finally {
    state.close();
  }
}
