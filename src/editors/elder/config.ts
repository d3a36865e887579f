/**
 * An ELDER configuration: a preset, and one sub-configuration per component
 * (the core, training, rehearsal, the gate), each declared by its component's
 * settings table. Settings are given flat by name (`{"lr": 0.01,
 * "queryRadius": 0.6}`): the command line, the method registry and a state's
 * per-run overrides all speak that form, and {@link elderConfig} sorts it
 * into the components, fills the rest from the preset and validates.
 */
import type { ModelConfig } from '../../models/config.js';
import { UsageError } from '../../util/errors.js';
import { CORE_SETTINGS, type CoreConfig, validateCore } from './core-config.js';
import { GATE_KINDS, GATES, type GateConfig, type GateKindName, gateKindOf } from './gates/index.js';
import { ELDER_PRESETS, type ElderPreset, type ElderSettingValues, PRESETS, type PresetSettings } from './presets.js';
import { REHEARSAL_SETTINGS, type RehearsalConfig } from './rehearsal.js';
import { checkSetting, checkSettings, isRule, resolveSettings, type Setting, type SettingsTable } from './settings.js';
import { TRAINING_SETTINGS, type TrainingConfig } from './training.js';

export interface ElderConfig {
  /** The defaults this configuration started from. */
  preset: ElderPreset;
  core: CoreConfig;
  training: TrainingConfig;
  rehearsal: RehearsalConfig;
  gate: GateConfig;
}

/** Settings by name, as the command line, the registry and a state's overrides give them. */
export type ElderSettings = Partial<ElderSettingValues> & { preset?: ElderPreset };

/** The settings that choose the rest: the preset and the gate (the paper's code gate by default, as every table gives the paper's values). */
export const TOP_SETTINGS = [
  {
    name: 'preset',
    type: 'choice',
    choices: ELDER_PRESETS,
    scope: 'fixed',
    help: "ELDER's settings: elder's tuned default, or the paper's exact algorithm",
    default: 'elder',
  },
  { name: 'gate', type: 'choice', choices: GATE_KINDS, scope: 'run', help: 'what decides between the experts and the base model', default: 'code' },
] as const satisfies SettingsTable;

/** The components every configuration has, besides its gate: the one list of them. */
export const COMPONENTS = [
  { component: 'core', table: CORE_SETTINGS },
  { component: 'training', table: TRAINING_SETTINGS },
  { component: 'rehearsal', table: REHEARSAL_SETTINGS },
] as const;

/** The settings tables a configuration with `gate` reads. */
function tablesWith(gate: GateKindName): SettingsTable[] {
  return [TOP_SETTINGS, ...COMPONENTS.map((c) => c.table), GATES[gate].settings];
}

/** Every settings table, with the component it configures (the gates' tables last). */
export function settingsTables(): Array<{ component: string; table: SettingsTable }> {
  return [
    { component: 'elder', table: TOP_SETTINGS },
    ...COMPONENTS,
    ...GATE_KINDS.map((kind) => ({ component: `${kind} gate`, table: GATES[kind].settings })),
  ];
}

/** Every setting of every component. */
export function allSettings(): Setting[] {
  return settingsTables().flatMap(({ table }) => [...table]);
}

/**
 * Refuses a preset that sets anything but a setting, or a value that does not
 * fit its setting, naming it. Every preset is checked when this module loads.
 */
export function checkPreset(name: string, settings: Readonly<Record<string, unknown>>): void {
  const known = new Map(allSettings().map((s) => [s.name, s]));
  for (const [key, value] of Object.entries(settings)) {
    const setting = known.get(key);
    if (setting === undefined) throw new UsageError(`ELDER preset "${name}" sets "${key}", which is not a setting (settings: ${[...known.keys()].join(', ')})`);
    if (!isRule(value)) checkSetting(setting, value);
  }
}

for (const preset of ELDER_PRESETS) checkPreset(preset, PRESETS[preset].settings);

/** The configuration of `settings` on `model`: the preset's defaults for whatever is not given, validated. */
export function elderConfig(model: ModelConfig, settings: ElderSettings = {}): ElderConfig {
  for (const setting of TOP_SETTINGS) if (settings[setting.name] !== undefined) checkSetting(setting, settings[setting.name]);
  const preset: ElderPreset = settings.preset ?? 'elder';
  const departures: PresetSettings = PRESETS[preset].settings;
  const core = resolveSettings(CORE_SETTINGS, departures, settings, { model }) as CoreConfig;
  validateCore(core, model);
  const training = resolveSettings(TRAINING_SETTINGS, departures, settings, {}) as TrainingConfig;
  checkSettings(TRAINING_SETTINGS, training);
  const rehearsal = resolveSettings(REHEARSAL_SETTINGS, departures, settings, {}) as RehearsalConfig;
  checkSettings(REHEARSAL_SETTINGS, rehearsal);
  const kind = GATES[resolveSettings(TOP_SETTINGS, departures, settings, {}).gate as GateKindName];
  const gateSettings = resolveSettings(kind.settings, departures, settings, { model, core });
  checkSettings(kind.settings, gateSettings);
  // Every field is one of the gate's settings, checked against its table just above.
  const gate = { kind: kind.kind, ...gateSettings } as GateConfig;
  gateKindOf(gate).validate(gate, core, model);
  refuseUnused(settings, gate.kind);
  return { preset, core, training, rehearsal, gate };
}

/** A setting given that nothing in this configuration reads is refused, never dropped without a word. */
function refuseUnused(settings: ElderSettings, gate: GateKindName): void {
  const used = new Set(tablesWith(gate).flatMap((table) => table.map((s) => s.name)));
  for (const [name, value] of Object.entries(settings)) {
    if (value === undefined || used.has(name)) continue;
    const owner = GATE_KINDS.find((kind) => GATES[kind].settings.some((s) => s.name === name));
    if (owner !== undefined) throw new UsageError(`ELDER ${name} is a setting of the ${owner} gate; this configuration's gate is ${gate}`);
    throw new UsageError(
      `ELDER has no setting "${name}" (settings: ${allSettings()
        .map((s) => s.name)
        .join(', ')})`,
    );
  }
}

/** A configuration as settings by name (what {@link elderConfig} takes back). */
export function settingsOf(config: ElderConfig): ElderSettings {
  const { kind, ...gateSettings } = config.gate;
  return { preset: config.preset, ...config.core, ...config.training, ...config.rehearsal, gate: kind, ...gateSettings };
}

/** The names of the settings a state fixes when it is created (they shape the weights or the codes). */
export function fixedSettings(config: ElderConfig): Array<keyof ElderSettings> {
  return tablesWith(config.gate.kind)
    .flatMap((table) => table.filter((s) => s.scope === 'fixed'))
    .map((s) => s.name as keyof ElderSettings);
}

/**
 * `config` with per-run settings changed. Switching the gate leaves the old
 * gate's settings behind (the new one starts from its defaults).
 */
export function reconfigure(config: ElderConfig, model: ModelConfig, changes: ElderSettings): ElderConfig {
  const current = settingsOf(config);
  if (changes.gate !== undefined && changes.gate !== config.gate.kind)
    for (const s of GATES[config.gate.kind].settings) delete current[s.name as keyof ElderSettings];
  return elderConfig(model, { ...current, ...changes });
}

/** The method name of a configuration: `elder` or `elder-paper`, or the ablation's when the routing loss is not the guided one. */
export function methodOf(config: ElderConfig): string {
  const loss = config.core.routingLoss;
  if (config.preset === 'paper') return loss === 'guided' ? 'elder-paper' : `elder-paper-${loss}`;
  return { guided: 'elder', none: 'elder-noguide', balance: 'elder-balance' }[loss];
}
