/**
 * ELDER's settings on the command line (`elder edit`, `elder serve`), made
 * from the components' settings tables: one flag per setting (`--blocks a-b`
 * for the paired first and last block, `--X` / `--no-X` for a switch), its
 * help and the presets' defaults. Only what is given becomes an override.
 */
import { allSettings, type ElderSettings, settingsTables } from '../editors/elder/config.js';
import { ELDER_PRESETS, PRESETS } from '../editors/elder/presets.js';
import { defaultText, flagOf, type Setting, settingProblem } from '../editors/elder/settings.js';
import { UsageError } from '../util/errors.js';
import type { OptionDoc, OptionSpec, ParsedOptions } from './args.js';

/** A setting's default under each preset, as `--help` shows it. */
function defaultsText(setting: Setting): string {
  const of = (preset: (typeof ELDER_PRESETS)[number]): unknown => {
    const departures: Readonly<Record<string, unknown>> = PRESETS[preset].settings;
    return setting.name in departures ? departures[setting.name] : setting.default;
  };
  const shown = ELDER_PRESETS.map((preset) => {
    const value = of(preset);
    return typeof value === 'boolean' ? (value ? 'on' : 'off') : defaultText(value);
  });
  return shown.every((text) => text === shown[0]) ? shown[0] : ELDER_PRESETS.map((preset, i) => `${preset} ${shown[i]}`).join(', ');
}

function placeholder(setting: Setting): string {
  if (setting.type === 'choice') return setting.choices.join('|');
  if (setting.pairedWith !== undefined) return 'a-b';
  return 'value' in setting && setting.value !== undefined ? setting.value : 'X';
}

/** Every ELDER flag, with its help and defaults. */
export const ELDER_OPTIONS: OptionSpec = Object.fromEntries(
  settingsTables().flatMap(({ component, table }) =>
    table
      .filter((setting) => setting.paired !== true)
      .flatMap((setting): Array<[string, OptionDoc]> => {
        const flag = flagOf(setting);
        const help = component.endsWith(' gate') ? `${component}: ${setting.help}` : setting.help;
        const fallback = defaultsText(setting);
        if (setting.type === 'boolean')
          return [
            [flag, { type: 'boolean', help, default: fallback }],
            [`no-${flag}`, { type: 'boolean', help: `the opposite of --${flag}` }],
          ];
        return [[flag, { type: 'string', value: placeholder(setting), help, default: fallback }]];
      }),
  ),
);

/** The flags of the settings a state fixes when it is created, for `--help`. */
export const FIXED_FLAGS: string = allSettings()
  .filter((setting) => setting.scope === 'fixed' && setting.paired !== true)
  .map((setting) => `--${flagOf(setting)}`)
  .join(', ');

/** The ELDER settings given on the command line (only those). */
export function elderOverrides(options: ParsedOptions): ElderSettings {
  const overrides: Record<string, unknown> = {};
  const settings = allSettings();
  for (const setting of settings) {
    if (setting.paired === true) continue;
    const flag = flagOf(setting);
    if (setting.type === 'boolean') {
      if (options.values[flag] === true && options.values[`no-${flag}`] === true) throw new UsageError(`--${flag} and --no-${flag} contradict each other`);
      if (options.values[flag] === true) overrides[setting.name] = true;
      if (options.values[`no-${flag}`] === true) overrides[setting.name] = false;
      continue;
    }
    const raw = options.values[flag];
    if (typeof raw !== 'string') continue;
    if (setting.pairedWith !== undefined) {
      Object.assign(overrides, blockRange(flag, raw, setting.name, setting.pairedWith));
      continue;
    }
    const value = setting.type === 'integer' || setting.type === 'number' ? (raw.trim() === '' ? NaN : Number(raw)) : raw;
    const problem = settingProblem(setting, value);
    if (problem !== null) throw new UsageError(`--${flag} must be ${problem}, got "${raw}"`);
    overrides[setting.name] = value;
  }
  return overrides as ElderSettings;
}

/** `a-b` as a first and last block. */
function blockRange(flag: string, raw: string, first: string, last: string): Record<string, number> {
  const match = /^(\d+)-(\d+)$/.exec(raw);
  if (!match) throw new UsageError(`--${flag} must look like a-b (first and last edited block), got "${raw}"`);
  return { [first]: Number(match[1]), [last]: Number(match[2]) };
}

/** `--blocks a-b` alone (commands that read the edited blocks without the other settings). */
export function blockRangeOption(options: ParsedOptions): Record<string, number> {
  const setting = allSettings().find((s) => s.pairedWith !== undefined)!;
  const raw = options.values[flagOf(setting)];
  return typeof raw === 'string' ? blockRange(flagOf(setting), raw, setting.name, setting.pairedWith!) : {};
}
