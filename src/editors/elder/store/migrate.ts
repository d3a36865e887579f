/**
 * A state's stored ELDER configuration, from any format version, as today's
 * {@link ElderConfig}. Versions 1 and 2 stored one flat object of settings,
 * some under older names or missing (written before the setting existed);
 * version 3 stores the configuration by component. The sealed file itself is
 * never rewritten: it is migrated each time it is read, and validated
 * against the model when the state is opened with one.
 */
import { COMPONENTS, type ElderConfig } from '../config.js';
import type { CoreConfig } from '../core-config.js';
import { GATES, isGateKind } from '../gates/index.js';
import { pickSettings } from '../settings.js';

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
  const components = Object.fromEntries(COMPONENTS.map(({ component, table }) => [component, pickSettings(table, flat)]));
  const gateKind = String(flat.gate);
  const gateSettings = isGateKind(gateKind)
    ? (GATES[gateKind].fromLegacy?.(flat, components.core as CoreConfig) ?? pickSettings(GATES[gateKind].settings, flat))
    : {};
  // Not yet validated: opening the state with its model checks every setting (config.ts elderConfig).
  return { preset: flat.preset, ...components, gate: { kind: gateKind, ...gateSettings } } as unknown as ElderConfig;
}
