/** Typed option parsing on node:util's parseArgs, with errors that name the option. */
import { parseArgs } from 'node:util';
import { UsageError } from '../util/errors.js';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export interface ParsedOptions {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseOptions(argv: string[], spec: OptionSpec, command: string): ParsedOptions {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
    return { values: values as ParsedOptions['values'], positionals };
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message.split('\n')[0]}`);
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
