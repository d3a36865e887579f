/** Every gate by name: the one place that lists them (the rest of ELDER asks this table). */
import { CODE_GATE } from './code-gate.js';
import type { GateKind } from './gate.js';
import { SUBJECT_GATE } from './subject-gate.js';

export const GATES: Readonly<Record<string, GateKind>> = { [CODE_GATE.kind]: CODE_GATE, [SUBJECT_GATE.kind]: SUBJECT_GATE };

export const GATE_KINDS: readonly string[] = Object.keys(GATES);
