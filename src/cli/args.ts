/**
 * Typed option parsing on node:util's parseArgs, with errors that name the
 * option, and each command's `--help` generated from the same table that
 * parses its options, so the two cannot drift apart.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../util/errors.js';

/** One option: how it parses and what `--help` says about it. */
export interface OptionDoc {
  type: 'string' | 'boolean';
  short?: string;
  /** What the option does, one line. */
  help: string;
  /** The value's placeholder in the usage line (`DIR`, `N`); string options only. */
  value?: string;
  /** The default, as `--help` shows it (the code that reads the option applies it). */
  default?: string;
  /** Must be given. */
  required?: boolean;
}

export type OptionSpec = Record<string, OptionDoc>;

/** A command's name, summary and options: everything its `--help` prints. */
export interface CommandSpec {
  name: string;
  summary: string;
  options: OptionSpec;
  /** Paragraphs after the option list. */
  notes?: string;
}

export interface ParsedOptions {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Thrown by {@link parseOptions} for `--help`/`-h`: the command's usage, for stdout and exit 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super(text);
    this.name = 'HelpRequested';
  }
}

/** `elder <command> --help`: usage line, summary, every option with its default. */
export function commandUsage(spec: CommandSpec): string {
  const entries = Object.entries(spec.options);
  const flag = ([name, doc]: [string, OptionDoc]) => (doc.type === 'boolean' ? `--${name}` : `--${name} ${doc.value ?? 'X'}`);
  const usage = entries.map((entry) => (entry[1].required ? flag(entry) : `[${flag(entry)}]`)).join(' ');
  const width = Math.max(...entries.map((entry) => flag(entry).length));
  const lines = entries.map((entry) => {
    const [, doc] = entry;
    const extra = [doc.required ? 'required' : '', doc.default !== undefined ? `default: ${doc.default}` : ''].filter((s) => s !== '').join('; ');
    return `  ${flag(entry).padEnd(width)}  ${doc.help}${extra === '' ? '' : ` (${extra})`}`;
  });
  return [
    `Usage: elder ${spec.name} ${usage}`,
    '',
    spec.summary,
    '',
    'Options:',
    ...lines,
    `  ${'--help'.padEnd(width)}  this text`,
    ...(spec.notes ? ['', spec.notes] : []),
  ].join('\n');
}

export function parseOptions(argv: string[], spec: CommandSpec): ParsedOptions {
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested(commandUsage(spec));
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, doc]) => [name, doc.short === undefined ? { type: doc.type } : { type: doc.type, short: doc.short }]),
  );
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as ParsedOptions['values'], positionals };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const hint = `see elder ${spec.name} --help`;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec((error as Error).message)?.[1] ?? '?';
      throw new UsageError(`${spec.name}: unknown option ${option} (${hint})`);
    }
    throw new UsageError(`${spec.name}: ${(error as Error).message.split('\n')[0]} (${hint})`);
  }
}

export function requireString(options: ParsedOptions, name: string, command: string): string {
  const value = options.values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`${command}: --${name} is required`);
  return value;
}

export function optionalString(options: ParsedOptions, name: string): string | undefined {
  const value = options.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A numeric option within [min, max], integer if asked. */
export function numberOption(options: ParsedOptions, name: string, fallback: number, { min = -Infinity, max = Infinity, integer = false } = {}): number {
  const raw = options.values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    const kind = integer ? 'an integer' : 'a number';
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new UsageError(`--${name} must be ${kind} ${range}, got "${String(raw)}"`);
  }
  return value;
}

/** `--model`, shared by every command that loads one. */
export const MODEL_OPTION: OptionSpec = {
  model: { type: 'string', value: 'DIR', help: 'Hugging Face model folder (config.json, *.safetensors, tokenizer.json)', default: 'the embedded elder-facts' },
};
