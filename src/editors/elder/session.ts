/**
 * ELDER on one batch of inputs. The prompt pass reads each sequence's router
 * query (the input of the query site at its last prompt token) and whatever
 * the gate reads; it routes and lets the gate decide at the gate's decision
 * site, before any expert acts, and the edited linears then apply that
 * routing. Decoding steps apply the same routing to each new token. Deferred
 * sequences get exactly the base model's outputs; with every sequence
 * deferred the edited linears are left untouched.
 */
import type { LinearHook } from '../../models/decoder.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad, type Tensor } from '../../tensor/tensor.js';
import { InferenceSession } from '../common/session.js';
import { runBefore } from '../editor.js';
import type { ElderCore } from './core.js';
import type { GateInputs } from './frozen.js';
import type { Gate, RoutingDecision } from './gates/gate.js';
import type { Routing } from './router.js';

export type { RoutingDecision };

export interface ElderSessionDecision {
  /** Per sequence. */
  decisions: RoutingDecision[];
  /** The mixture's hooks with deferred sequences' gates zeroed; null when every sequence defers. */
  edited: Map<string, LinearHook> | null;
}

/** Routes router queries [B, in] and lets the gate decide each sequence. */
export function decideBatch(core: ElderCore, gate: Gate, query: Tensor, inputs: GateInputs): { routing: Routing; decisions: RoutingDecision[] } {
  const routing = core.route(query);
  const codes = Array.from({ length: query.shape[0] }, (_, b) => core.codeOf(routing, b));
  return { routing, decisions: gate.decide(routing, codes, inputs) };
}

export class ElderSession extends InferenceSession<ElderSessionDecision> {
  constructor(
    private readonly core: ElderCore,
    private readonly gate: Gate,
    queryRows: Int32Array,
  ) {
    super(queryRows);
  }

  /** Per sequence, how it was routed (after the prompt pass). */
  get decisions(): RoutingDecision[] {
    return this.decision.decisions;
  }

  protected promptHooks(decide: (decision: ElderSessionDecision) => void): Map<string, LinearHook> {
    const { core, gate, queryRows } = this;
    let edited: Map<string, LinearHook> | null = null;
    let query: Tensor | undefined;
    const hooks = this.appliedHooks(() => edited);
    // Hooks added later run first: captures, then the decision, then (at an edited linear) its experts.
    let inputs: () => GateInputs = () => ({});
    runBefore(hooks, gate.decisionSite, () => {
      const decided = decideBatch(core, gate, query!, inputs());
      edited = decided.decisions.every((d) => d.deferred)
        ? null
        : core.mixture.hooks(core.model, { ...decided.routing, scores: zeroDeferred(decided.routing.scores, decided.decisions, core.config.experts) });
      decide({ decisions: decided.decisions, edited });
    });
    inputs = gate.captureInputs(hooks, queryRows);
    runBefore(hooks, core.querySite, (input) => (query = selectRows(input, queryRows)));
    return hooks;
  }

  protected stepHooks(decision: ElderSessionDecision): Map<string, LinearHook> {
    return this.appliedHooks(() => decision.edited);
  }

  /** A hook on every edited linear that applies `edited()` (nothing while it is null). */
  private appliedHooks(edited: () => Map<string, LinearHook> | null): Map<string, LinearHook> {
    const hooks = new Map<string, LinearHook>();
    for (const name of this.core.editedSites) {
      hooks.set(name, (input, output) => {
        const mixture = edited();
        return mixture === null ? output : noGrad(() => mixture.get(name)!(input, output));
      });
    }
    return hooks;
  }
}

/** Router scores with the gates of deferred sequences set to zero: in a mixed batch their outputs gain exactly +0. */
function zeroDeferred(scores: readonly Tensor[], decisions: readonly RoutingDecision[], experts: number): Tensor[] {
  return scores.map((blockScores) => {
    const gates = blockScores.clone();
    decisions.forEach((d, b) => {
      if (d.deferred) gates.data.fill(0, b * experts, (b + 1) * experts);
    });
    return gates;
  });
}
