/**
 * A gate decides, per input, whether ELDER's experts act or the untouched
 * base model answers, and through which experts. The paper's gate is the
 * code distance (`code-gate.ts`); elder adds the subject gate
 * (`subject-gate.ts`). A gate is a component: it declares its own settings,
 * the captures it adds to a forward pass, and its decision, and it reads the
 * editor's codes and remembered edits only through a {@link GateView}.
 */
import type { ModelConfig } from '../../../models/config.js';
import type { GateRadius } from '../../editor.js';
import type { Codebook } from '../codebook.js';
import type { ElderCore, RoutedCode } from '../core.js';
import type { CoreConfig } from '../core-config.js';
import type { EditMemory, GateCaptures, GateInputs } from '../frozen.js';
import type { Routing } from '../router.js';
import type { SettingsTable } from '../settings.js';

/** How one sequence was routed at inference. */
export interface RoutingDecision {
  deferred: boolean;
  /** The gate's verdict where it matches inputs to edits: the live edit matched, or null when none was (and so deferred). */
  matched?: string | null;
  /** Hamming distance to the nearest stored code (Infinity for an empty codebook). */
  distance: number;
  nearestId: string | null;
  /** Experts chosen per edited block (largest score first). */
  experts: number[][];
}

/** What a gate reads of what the editor holds. */
export interface GateView {
  /** Codes of live edits. */
  readonly codebook: Pick<Codebook, 'nearest' | 'get' | 'size'>;
  /** Codes of retracted edits: an input strictly nearer to one of these than to any live code defers. */
  readonly retracted: Pick<Codebook, 'nearest'>;
  /** Remembered live edits, in the order they were applied. */
  liveMemories(): readonly EditMemory[];
}

/** What every gate's configuration has: which gate it configures (each gate adds its own settings; gates/index.ts unites them). */
export interface GateConfigBase {
  readonly kind: string;
}

export interface Gate extends GateCaptures {
  /** Module name of the linear at whose input a prompt pass decides (after every capture the decision reads). */
  readonly decisionSite: string;
  /**
   * Per sequence of a routed batch: defer or not, and the experts it uses.
   * May rewrite `routing.selection` for sequences it sends through other experts.
   */
  decide(routing: Routing, codes: readonly RoutedCode[], inputs: GateInputs): RoutingDecision[];
  /** The live edits changed (an edit committed or retracted, codes refreshed): drop what was derived from them. */
  invalidate(): void;
  /** A radius that can be moved after training (benchmarks measure the trade-off it makes). */
  readonly radius?: GateRadius;
}

/** What a gate rule may read: the model and the resolved core. */
export interface GateRuleContext {
  model: ModelConfig;
  core: CoreConfig;
  resolved: Record<string, unknown>;
}

/** One kind of gate: its settings, their defaults, and how to build it, typed to its configuration `C`. */
export interface GateKind<C extends GateConfigBase> {
  readonly kind: C['kind'];
  /** What it does, one line (for `--help`). */
  readonly summary: string;
  /** Its settings, with their defaults (values, or rules on the model and the core). */
  readonly settings: SettingsTable;
  /** Cross-setting checks beyond each setting's own (the table checks those). */
  validate(config: C, core: CoreConfig, model: ModelConfig): void;
  create(config: C, core: ElderCore, view: GateView): Gate;
  /** One line for `elder state`. */
  describe(config: C): string;
  /** The settings of this gate in a state written before gates had their own settings (flat fields, some missing). */
  fromLegacy?(flat: Readonly<Record<string, unknown>>, core: CoreConfig): Record<string, unknown>;
}
