/**
 * A state's stored ELDER configuration, from any format version, as today's
 * {@link ElderConfig}. Versions 1 and 2 stored one flat object of settings,
 * some under older names or missing (written before the setting existed);
 * version 3 stores the configuration by component. The sealed file itself is
 * never rewritten: it is migrated each time it is read, and validated
 * against the model when the state is opened with one.
 */
import type { ElderConfig } from '../config.js';
import { CORE_SETTINGS, type CoreConfig } from '../core-config.js';
import type { GateConfig } from '../gates/gate.js';
import { GATES } from '../gates/index.js';
import type { ElderPreset } from '../presets.js';
import { REHEARSAL_SETTINGS, type RehearsalConfig } from '../rehearsal.js';
import { pickSettings } from '../settings.js';
import { TRAINING_SETTINGS, type TrainingConfig } from '../training.js';

export const CONFIG_VERSION = 3;

/** Block indices were once called layers. */
const RENAMED: ReadonlyArray<readonly [string, string]> = [
  ['firstLayer', 'firstBlock'],
  ['lastLayer', 'lastBlock'],
  ['subjectLayer', 'subjectBlock'],
  ['gateLayer', 'gateBlock'],
];

/** What a setting meant in a state written before it existed: the behaviour of the day. */
const BEFORE_IT_EXISTED: Readonly<Record<string, unknown>> = {
  preset: 'elder',
  routingLoss: 'guided',
  trainRouting: 'router',
  replay: 0,
  freshCodes: false,
  trainEnding: false,
  gate: 'code',
};

/** The configuration a state stored, in today's form (not yet validated against a model). */
export function migrateElderConfig(stored: unknown, version: number): ElderConfig {
  if (version >= CONFIG_VERSION) return stored as ElderConfig;
  const flat: Record<string, unknown> = { ...(stored as Record<string, unknown>) };
  for (const [before, now] of RENAMED) {
    if (before in flat && !(now in flat)) flat[now] = flat[before];
    delete flat[before];
  }
  for (const [name, value] of Object.entries(BEFORE_IT_EXISTED)) flat[name] ??= value;
  const core = pickSettings(CORE_SETTINGS, flat) as unknown as CoreConfig;
  const kind = GATES[String(flat.gate)];
  const gate: GateConfig = { kind: String(flat.gate), ...(kind?.fromLegacy?.(flat, core) ?? (kind === undefined ? {} : pickSettings(kind.settings, flat))) };
  return {
    preset: flat.preset as ElderPreset,
    core,
    training: pickSettings(TRAINING_SETTINGS, flat) as unknown as TrainingConfig,
    rehearsal: pickSettings(REHEARSAL_SETTINGS, flat) as unknown as RehearsalConfig,
    gate,
  };
}
