import fs from 'node:fs';
import path from 'node:path';
import { isMethod, METHODS, type MethodName, type MethodSettings } from '../../editors/registry.js';
import { DATASET_FORMATS, type DatasetFormat } from '../../eval/datasets.js';
import { REPORT_FILES } from '../../eval/report.js';
import { runBenchmark } from '../../eval/runner.js';
import { defaultGeneralTasksPath } from '../../facts/general-tasks.js';
import { defaultModelDir, resolveModelDir } from '../../models/default-model.js';
import { UsageError } from '../../util/errors.js';
import { type CommandSpec, MODEL_OPTION, numberOption, optionalString, parseOptions, requireString } from '../args.js';

export const BENCH_EDIT_COMMAND: CommandSpec = {
  name: 'bench-edit',
  summary: 'Runs editing methods through the same sequential stream of benchmark edits and writes a report (JSON, Markdown, SVG plots).',
  options: {
    ...MODEL_OPTION,
    data: { type: 'string', value: 'FILE', help: 'benchmark file (ZsRE, COUNTERFACT or JSONL)', required: true },
    out: { type: 'string', value: 'DIR', help: 'report folder (progress.json there resumes a stopped run)', required: true },
    format: { type: 'string', value: 'zsre|counterfact|jsonl', help: 'format of --data', default: 'from the file' },
    edits: { type: 'string', value: 'N', help: 'edits to apply, in order', default: '100' },
    methods: { type: 'string', value: 'LIST', help: `comma-separated methods (${METHODS.join(', ')})`, default: 'all' },
    seed: { type: 'string', value: 'S', help: 'seed of every method', default: '0' },
    batch: { type: 'string', value: 'N', help: 'edits per batch', default: '4' },
    'eval-every': { type: 'string', value: 'M', help: 'measure every M edits', default: '100' },
    settings: { type: 'string', value: 'FILE.json', help: 'per-method settings, { "elder": { "lr": 0.002 }, … }' },
    locality: { type: 'string', value: 'FILE', help: 'general text for the locality check (one prompt per line)' },
    'locality-tokens': { type: 'string', value: 'N', help: 'tokens compared per locality prompt', default: '10' },
    'gate-radii': {
      type: 'string',
      value: 'LIST',
      help: "after the stream, also measure these gate radii (e.g. 0.4,0.5,0.6) on the same trained edits, for methods with a distance gate (elder's subject gate)",
    },
    tasks: {
      type: 'string',
      value: 'PATHS',
      help: "comma-separated general-task files or folders (elder task JSONL, or Gu et al.'s task-data files): measured on the base model and after every method's stream (test retention); none: no tasks",
      default: 'with elder-facts, its general tasks (bench/data/facts/general-tasks.jsonl); else none',
    },
    'task-limit': { type: 'string', value: 'N', help: 'at most N examples per task (quick runs)' },
    merge: {
      type: 'string',
      value: 'DIRS',
      help: 'comma-separated --out folders of the same command run with other --methods (e.g. side by side): their finished methods are taken, not rerun',
    },
  },
};

export function benchEditCommand(argv: string[]): void {
  const options = parseOptions(argv, BENCH_EDIT_COMMAND);
  const format = optionalString(options, 'format');
  if (format !== undefined && !(DATASET_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format must be one of ${DATASET_FORMATS.join(', ')}, got "${format}"`);
  const methodList = (optionalString(options, 'methods') ?? METHODS.join(','))
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  const unknown = methodList.filter((m) => !isMethod(m));
  if (unknown.length > 0) throw new UsageError(`unknown method ${unknown.join(', ')} (known: ${METHODS.join(', ')})`);
  const settingsFile = optionalString(options, 'settings');
  const batchSize = numberOption(options, 'batch', 4, { min: 1, integer: true });
  const modelDir = resolveModelDir(optionalString(options, 'model'));
  const results = runBenchmark({
    modelDir,
    dataFile: requireString(options, 'data', 'bench-edit'),
    format: format as DatasetFormat | undefined,
    edits: numberOption(options, 'edits', 100, { min: 1, integer: true }),
    methods: [...new Set(methodList)] as MethodName[],
    seed: numberOption(options, 'seed', 0, { min: 0, integer: true }),
    outDir: requireString(options, 'out', 'bench-edit'),
    batchSize,
    evalEvery: numberOption(options, 'eval-every', 100, { min: 1, integer: true }),
    settings: settingsFile === undefined ? {} : readSettings(settingsFile),
    localityFile: optionalString(options, 'locality'),
    localityTokens: numberOption(options, 'locality-tokens', 10, { min: 1, integer: true }),
    ...gateRadiiOption(optionalString(options, 'gate-radii')),
    ...mergeOption(optionalString(options, 'merge')),
    ...tasksOption(
      optionalString(options, 'tasks') ?? (path.resolve(modelDir) === path.resolve(defaultModelDir()) ? defaultGeneralTasksPath() : 'none'),
      options.values['task-limit'] === undefined ? undefined : numberOption(options, 'task-limit', 1, { min: 1, integer: true }),
    ),
  });
  const out = requireString(options, 'out', 'bench-edit');
  console.log(
    fs
      .readFileSync(path.join(out, REPORT_FILES.report), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('|'))
      .join('\n'),
  );
  console.log(`\n${results.methods.length} methods; report in ${path.join(out, REPORT_FILES.report)}, data in ${path.join(out, REPORT_FILES.results)}`);
}

/** `0.4,0.5,0.6`: the radii, each a number > 0. */
function gateRadiiOption(list: string | undefined): { gateRadii?: number[] } {
  if (list === undefined) return {};
  const radii = list.split(',').map((item) => item.trim());
  for (const item of radii)
    if (item === '' || !Number.isFinite(Number(item)) || Number(item) <= 0) throw new UsageError(`--gate-radii must list numbers > 0, got "${item}"`);
  return { gateRadii: radii.map(Number) };
}

/** `tasks/,more.jsonl`: general-task paths, and the examples kept per task. */
function tasksOption(list: string, limit: number | undefined): { taskPaths?: string[]; taskLimit?: number } {
  if (list === 'none') {
    if (limit !== undefined) throw new UsageError('--task-limit needs tasks to limit (--tasks)');
    return {};
  }
  const paths = list.split(',').map((item) => item.trim());
  if (paths.some((p) => p === '')) throw new UsageError(`--tasks must list files or folders separated by commas, got "${list}"`);
  return limit === undefined ? { taskPaths: paths } : { taskPaths: paths, taskLimit: limit };
}

/** `runs/a,runs/b`: output folders of other runs of the same command. */
function mergeOption(list: string | undefined): { mergeFrom?: string[] } {
  if (list === undefined) return {};
  const dirs = list.split(',').map((item) => item.trim());
  if (dirs.some((dir) => dir === '')) throw new UsageError(`--merge must list folders separated by commas, got "${list}"`);
  return { mergeFrom: dirs };
}

/** `{"elder": {"lr": 0.01}, "grace": {"epsInit": 3}}`: per-method overrides of the defaults. */
function readSettings(file: string): MethodSettings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--settings ${file}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsageError(`--settings ${file}: expected an object of per-method settings`);
  for (const [method, value] of Object.entries(parsed)) {
    if (method.startsWith('$')) continue;
    if (!isMethod(method)) throw new UsageError(`--settings ${file}: unknown method "${method}" (known: ${METHODS.join(', ')})`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`--settings ${file}: "${method}" must be an object`);
  }
  return Object.fromEntries(Object.entries(parsed).filter(([key]) => !key.startsWith('$'))) as MethodSettings;
}
