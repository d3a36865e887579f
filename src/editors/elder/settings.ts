/**
 * ELDER's settings as data. Each component (the core, training, rehearsal,
 * each gate) declares its settings in one table; whatever needs to know a
 * setting reads it there: the command line's flags and `--help`
 * (`cli/elder-options.ts`), validation, the overrides the method registry
 * accepts, and which settings a state fixes when it is created. Adding a
 * setting is one row in its component's table (and the field in its type).
 */
import { UsageError } from '../../util/errors.js';

/** A default that depends on the model or on settings resolved before it, with the words `--help` prints for it. */
export interface Rule<Context> {
  readonly rule: string;
  value(context: Context): unknown;
}

interface SettingBase {
  /** Field name in its component's configuration, and the name an override uses (`{"elder": {"lr": 0.01}}`). */
  name: string;
  /** What the setting does, one line. */
  help: string;
  /** `fixed`: shapes the weights or the codes, so a state keeps it from creation on; `run`: may change on every run. */
  scope: 'fixed' | 'run';
  /** Command-line flag, when not the name in kebab case. */
  flag?: string;
  /** Given on the command line together with the setting it names, as `a-b` under this setting's flag (first and last edited block). */
  pairedWith?: string;
  /** Given on the command line only through the setting it is paired with. */
  paired?: boolean;
  /** The default: a value, or a rule on the model and the settings before it (a preset may set another, presets.ts). */
  default: unknown;
}

export type Setting =
  | (SettingBase & { type: 'integer'; min: number; value?: string })
  /** A finite number ≥ min, or > min when `exclusive`. */
  | (SettingBase & { type: 'number'; min: number; exclusive?: boolean; value?: string })
  | (SettingBase & { type: 'boolean' })
  | (SettingBase & { type: 'choice'; choices: readonly string[] })
  | (SettingBase & { type: 'string'; value?: string });

export type SettingsTable = readonly Setting[];

/** The type of a setting's value. */
export type SettingValue<S> = S extends { type: 'integer' | 'number' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'choice'; choices: readonly (infer C)[] }
      ? C
      : string;

/** A component's configuration, from its table: one field per setting. */
export type SettingsOf<T extends SettingsTable> = { -readonly [S in T[number] as S['name']]: SettingValue<S> };

/** The flag a setting takes on the command line. */
export function flagOf(setting: Setting): string {
  return setting.flag ?? setting.name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Why `value` is not a valid value of `setting`, or null when it is. */
export function settingProblem(setting: Setting, value: unknown): string | null {
  switch (setting.type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= setting.min ? null : `an integer ≥ ${setting.min}`;
    case 'number': {
      const ok = typeof value === 'number' && Number.isFinite(value) && (setting.exclusive ? value > setting.min : value >= setting.min);
      return ok ? null : `a finite number ${setting.exclusive ? '>' : '≥'} ${setting.min}`;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : 'true or false';
    case 'choice':
      return typeof value === 'string' && setting.choices.includes(value) ? null : `one of ${setting.choices.join(', ')}`;
    case 'string':
      return typeof value === 'string' && value !== '' ? null : 'a non-empty string';
  }
}

/** Throws a one-line error naming the setting when `value` does not fit it. */
export function checkSetting(setting: Setting, value: unknown): void {
  const problem = settingProblem(setting, value);
  if (problem !== null) throw new UsageError(`ELDER ${setting.name} must be ${problem}, got ${JSON.stringify(value) ?? String(value)}`);
}

/** Checks every setting of `table` in `config`. */
export function checkSettings(table: SettingsTable, config: object): void {
  for (const setting of table) checkSetting(setting, (config as Record<string, unknown>)[setting.name]);
}

/**
 * A component's configuration: each setting of `table` in order, from
 * `overrides`, else the preset's `defaults`, else the setting's own default
 * (a value, or a rule evaluated on what is resolved so far).
 */
export function resolveSettings(
  table: SettingsTable,
  defaults: Readonly<Record<string, unknown>>,
  overrides: Readonly<Record<string, unknown>>,
  context: object,
): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const setting of table) {
    const { name } = setting;
    if (overrides[name] !== undefined) resolved[name] = overrides[name];
    else {
      const fallback = name in defaults ? defaults[name] : setting.default;
      resolved[name] = isRule(fallback) ? fallback.value({ ...context, resolved }) : fallback;
    }
  }
  return resolved;
}

export function isRule(value: unknown): value is Rule<unknown> {
  return typeof value === 'object' && value !== null && 'rule' in value && typeof (value as { value?: unknown }).value === 'function';
}

/** A default as `--help` shows it. */
export function defaultText(value: unknown): string {
  return isRule(value) ? value.rule : String(value);
}

/** Only the fields of `values` that `table` names. */
export function pickSettings(table: SettingsTable, values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(table.filter((s) => values[s.name] !== undefined).map((s) => [s.name, values[s.name]]));
}
