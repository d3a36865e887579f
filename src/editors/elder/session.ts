/**
 * ELDER on one batch of inputs. The prompt pass reads each sequence's router
 * query (the input of the query site at its last prompt token) and, with the
 * subject gate, its gate query and the states of its prompt tokens at the
 * subject site; it routes and decides deferral at the later of the query and
 * gate sites, before any expert acts, and the edited linears then apply that
 * routing. Decoding steps apply the same routing to
 * each new token. Deferred sequences get exactly the base model's outputs;
 * with every sequence deferred the edited linears are left untouched.
 */
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad, type Tensor } from '../../tensor/tensor.js';
import { InferenceSession } from '../common/session.js';
import { runBefore } from '../editor.js';
import type { ElderConfig } from './config.js';
import type { MixtureOfLora, Routing } from './mixture.js';

/** How one sequence was routed at inference. */
export interface RoutingDecision {
  deferred: boolean;
  /**
   * The subject gate's verdict (gate `subject` only): the live edit whose
   * query and subject the input matched, or null when it matched none (and
   * so deferred).
   */
  matched?: string | null;
  /** Hamming distance to the nearest stored code (Infinity for an empty codebook). */
  distance: number;
  nearestId: string | null;
  /** Experts chosen per edited layer (largest score first). */
  experts: number[][];
}

/**
 * What a session needs of its editor: where each query is read, the decision
 * from those queries, and the mixture that applies it.
 */
export interface SessionRouter {
  readonly model: DecoderLM;
  readonly config: ElderConfig;
  readonly mixture: MixtureOfLora;
  readonly querySite: string;
  readonly gateSite: string;
  readonly subjectSite: string;
  readonly decisionSite: string;
  decide(query: Tensor, tokenStates?: readonly Float32Array[], gateQueries?: Tensor): { routing: Routing; decisions: RoutingDecision[] };
}

export interface ElderSessionDecision {
  /** Per sequence. */
  decisions: RoutingDecision[];
  /** The mixture's hooks with deferred sequences' gates zeroed; null when every sequence defers. */
  edited: Map<string, LinearHook> | null;
}

export class ElderSession extends InferenceSession<ElderSessionDecision> {
  constructor(
    private readonly editor: SessionRouter,
    queryRows: Int32Array,
  ) {
    super(queryRows);
  }

  /** Per sequence, how it was routed (after the prompt pass). */
  get decisions(): RoutingDecision[] {
    return this.decision.decisions;
  }

  protected promptHooks(decide: (decision: ElderSessionDecision) => void): Map<string, LinearHook> {
    const { editor, queryRows } = this;
    let edited: Map<string, LinearHook> | null = null;
    let query: Tensor | undefined;
    let gateQueries: Tensor | undefined;
    let tokenStates: Float32Array[] | undefined;
    const hooks = this.appliedHooks(() => edited);
    // Hooks added later run first: captures, then the decision, then (at an edited linear) its experts.
    runBefore(hooks, editor.decisionSite, () => {
      const decided = editor.decide(query!, tokenStates, gateQueries);
      edited = decided.decisions.every((d) => d.deferred)
        ? null
        : editor.mixture.hooks(editor.model, { ...decided.routing, scores: zeroDeferred(decided.routing.scores, decided.decisions, editor.config.experts) });
      decide({ decisions: decided.decisions, edited });
    });
    if (editor.config.gate === 'subject') {
      runBefore(hooks, editor.gateSite, (input) => (gateQueries = selectRows(input, queryRows)));
      runBefore(hooks, editor.subjectSite, (input) => (tokenStates = promptTokenStates(input, queryRows)));
    }
    runBefore(hooks, editor.querySite, (input) => (query = selectRows(input, queryRows)));
    return hooks;
  }

  protected stepHooks(decision: ElderSessionDecision): Map<string, LinearHook> {
    return this.appliedHooks(() => decision.edited);
  }

  /** A hook on every edited linear that applies `edited()` (nothing while it is null). */
  private appliedHooks(edited: () => Map<string, LinearHook> | null): Map<string, LinearHook> {
    const hooks = new Map<string, LinearHook>();
    for (const layer of this.editor.mixture.layers) {
      const name = this.editor.model.linearName(layer.block, this.editor.config.site);
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
  return scores.map((layerScores) => {
    const gates = layerScores.clone();
    decisions.forEach((d, b) => {
      if (d.deferred) gates.data.fill(0, b * experts, (b + 1) * experts);
    });
    return gates;
  });
}

/**
 * Each sequence's states at every prompt token, from a linear's input rows
 * [B·T, in]: sequence b's tokens are rows b·T … queryRows[b].
 */
export function promptTokenStates(input: Tensor, queryRows: Int32Array): Float32Array[] {
  const inDim = input.lastDim;
  const steps = input.rows / queryRows.length;
  return Array.from(queryRows, (last, b) => input.data.slice(b * steps * inDim, (last + 1) * inDim));
}
