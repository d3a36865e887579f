/**
 * The paper's gate: an input whose allocation code lies ≥ ε bits from every
 * stored code defers to the base model, as does one strictly nearer to a
 * retracted edit's code than to any live one (so that a retracted edit's
 * inputs return to the base model even when another live code lies within ε).
 */
import type { ElderCore, RoutedCode } from '../core.js';
import type { Gate, GateKind, GateView, RoutingDecision } from './gate.js';

/** The code gate has no settings of its own: ε is the core's. */
export interface CodeGateConfig {
  readonly kind: 'code';
}

/** The code distance's verdict on one routed sequence. */
export function codeVerdict(routed: RoutedCode, view: GateView, epsilon: number): RoutingDecision {
  const nearest = view.codebook.nearest(routed.code);
  const deferred = nearest.distance >= epsilon || view.retracted.nearest(routed.code).distance < nearest.distance;
  return { deferred, distance: nearest.distance, nearestId: nearest.id, experts: routed.experts };
}

class CodeGate implements Gate {
  readonly decisionSite: string;
  readonly deepestBlock: number;

  constructor(
    private readonly core: ElderCore,
    private readonly view: GateView,
  ) {
    this.decisionSite = core.querySite;
    this.deepestBlock = core.config.firstBlock - 1;
  }

  captureKeys(_hooks: unknown, queryRows: Int32Array): () => Array<Record<string, never>> {
    return () => Array.from(queryRows, () => ({}));
  }

  captureInputs(): () => Record<string, never> {
    return () => ({});
  }

  decide(_routing: unknown, codes: readonly RoutedCode[]): RoutingDecision[] {
    return codes.map((routed) => codeVerdict(routed, this.view, this.core.config.epsilon));
  }

  invalidate(): void {}
}

export const CODE_GATE: GateKind<CodeGateConfig> = {
  kind: 'code',
  summary: 'an input uses the experts when its code is within ε of a stored code (the paper)',
  settings: [],
  validate: () => {},
  create: (_config, core, view) => new CodeGate(core, view),
  describe: () => 'code distance',
};
