/** Every gate by name: the one place that lists them (the rest of ELDER asks this table). */
import { CODE_GATE, type CodeGateConfig } from './code-gate.js';
import type { GateKind } from './gate.js';
import { SUBJECT_GATE, type SubjectGateConfig } from './subject-gate.js';

/** A gate's configuration: which gate, and that gate's own settings. */
export type GateConfig = CodeGateConfig | SubjectGateConfig;
export type GateKindName = GateConfig['kind'];
type ConfigOf<K extends GateKindName> = Extract<GateConfig, { kind: K }>;

export const GATES: { readonly [K in GateKindName]: GateKind<ConfigOf<K>> } = { code: CODE_GATE, subject: SUBJECT_GATE };

export const GATE_KINDS = Object.keys(GATES) as GateKindName[];

export function isGateKind(name: string): name is GateKindName {
  return (GATE_KINDS as readonly string[]).includes(name);
}

/** The gate kind that `config` configures, typed to it. */
export function gateKindOf<K extends GateKindName>(config: ConfigOf<K>): GateKind<ConfigOf<K>> {
  return GATES[config.kind as K];
}
