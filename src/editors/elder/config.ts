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
import type { GateConfig } from './gates/gate.js';
import { GATE_KINDS, GATES } from './gates/index.js';
import { ELDER_PRESETS, type ElderPreset, PRESETS } from './presets.js';
import { REHEARSAL_SETTINGS, type RehearsalConfig } from './rehearsal.js';
import { checkSetting, checkSettings, resolveSettings, type Setting, type SettingsTable } from './settings.js';
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
export type ElderSettings = Partial<CoreConfig & TrainingConfig & RehearsalConfig> & { preset?: ElderPreset; gate?: string } & Record<string, unknown>;

/** The settings that choose the rest: the preset and the gate (the paper's code gate by default, as every table gives the paper's values). */
export const TOP_SETTINGS: SettingsTable = [
  {
    name: 'preset',
    type: 'choice',
    choices: ELDER_PRESETS,
    scope: 'fixed',
    help: "ELDER's settings: elder's tuned default, or the paper's exact algorithm",
    default: 'elder',
  },
  { name: 'gate', type: 'choice', choices: GATE_KINDS, scope: 'run', help: 'what decides between the experts and the base model', default: 'code' },
];

/** Every settings table, with the component it configures (the gates' tables last). */
export function settingsTables(): Array<{ component: string; table: SettingsTable }> {
  return [
    { component: 'elder', table: TOP_SETTINGS },
    { component: 'core', table: CORE_SETTINGS },
    { component: 'training', table: TRAINING_SETTINGS },
    { component: 'rehearsal', table: REHEARSAL_SETTINGS },
    ...GATE_KINDS.map((kind) => ({ component: `${kind} gate`, table: GATES[kind].settings })),
  ];
}

/** Every setting of every component. */
export function allSettings(): Setting[] {
  return settingsTables().flatMap(({ table }) => [...table]);
}

/** The configuration of `settings` on `model`: the preset's defaults for whatever is not given, validated. */
export function elderConfig(model: ModelConfig, settings: ElderSettings = {}): ElderConfig {
  const top = TOP_SETTINGS;
  for (const setting of top) if (settings[setting.name] !== undefined) checkSetting(setting, settings[setting.name]);
  const preset: ElderPreset = settings.preset ?? 'elder';
  const departures = PRESETS[preset].settings;
  const core = resolveSettings(CORE_SETTINGS, departures, settings, { model }) as CoreConfig;
  validateCore(core, model);
  const training = resolveSettings(TRAINING_SETTINGS, departures, settings, {}) as TrainingConfig;
  checkSettings(TRAINING_SETTINGS, training);
  const rehearsal = resolveSettings(REHEARSAL_SETTINGS, departures, settings, {}) as RehearsalConfig;
  checkSettings(REHEARSAL_SETTINGS, rehearsal);
  const kind = GATES[resolveSettings(TOP_SETTINGS, departures, settings, {}).gate as string];
  const gate: GateConfig = { kind: kind.kind, ...resolveSettings(kind.settings, departures, settings, { model, core }) };
  checkSettings(kind.settings, gate);
  kind.validate(gate, core, model);
  refuseUnused(settings, kind.kind);
  return { preset, core, training, rehearsal, gate };
}

/** A setting given that nothing in this configuration reads is refused, never dropped without a word. */
function refuseUnused(settings: ElderSettings, gate: string): void {
  const used = new Set([...TOP_SETTINGS, ...CORE_SETTINGS, ...TRAINING_SETTINGS, ...REHEARSAL_SETTINGS, ...GATES[gate].settings].map((s) => s.name));
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
export function fixedSettings(config: ElderConfig): string[] {
  return [...TOP_SETTINGS, ...CORE_SETTINGS, ...GATES[config.gate.kind].settings].filter((s) => s.scope === 'fixed').map((s) => s.name);
}

/**
 * `config` with per-run settings changed. Switching the gate leaves the old
 * gate's settings behind (the new one starts from its defaults).
 */
export function reconfigure(config: ElderConfig, model: ModelConfig, changes: ElderSettings): ElderConfig {
  const current = settingsOf(config);
  if (changes.gate !== undefined && changes.gate !== config.gate.kind) for (const s of GATES[config.gate.kind].settings) delete current[s.name];
  return elderConfig(model, { ...current, ...changes });
}

/** The method name of a configuration: `elder` or `elder-paper`, or the ablation's when the routing loss is not the guided one. */
export function methodOf(config: ElderConfig): string {
  const loss = config.core.routingLoss;
  if (config.preset === 'paper') return loss === 'guided' ? 'elder-paper' : `elder-paper-${loss}`;
  return { guided: 'elder', none: 'elder-noguide', balance: 'elder-balance' }[loss];
}
