/**
 * The subject gate (elder's addition; the paper gates by code distance
 * only). Besides the code distance, an input may use the experts only when it
 * lies near one live edit twice: its gate query (a linear's input at the last
 * prompt token, below any expert) within the query radius of the edit's, and,
 * where the edit named its subject, its subject found among the prompt's
 * states at the subject site: one token within the subject radius of the
 * subject's last token (`subjectTest: last-token`), or the subject's whole
 * token span, each token within the radius, as in the edit's prompt or as a
 * text's opening words (`span`). A matched input
 * runs through its edit's experts (`matchedExperts`): the gate has already
 * said which edit the input is, and a rephrasing's router query may pick
 * others. docs/decisions.md gives the measurements behind each default.
 */
import type { ModelConfig } from '../../../models/config.js';
import type { LinearHook } from '../../../models/decoder.js';
import { selectRows } from '../../../tensor/ops/select.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { UsageError } from '../../../util/errors.js';
import { siteInputWidth } from '../../common/sites.js';
import type { GateRadius } from '../../editor.js';
import { runBefore } from '../../editor.js';
import { decodeCode } from '../codebook.js';
import type { ElderCore, RoutedCode } from '../core.js';
import type { CoreConfig } from '../core-config.js';
import type { EditMemory, GateInputs, GateKeys, SubjectRows } from '../frozen.js';
import type { Routing } from '../router.js';
import { checkSetting, type Rule, type SettingsOf, type SettingsTable } from '../settings.js';
import { codeVerdict } from './code-gate.js';
import type { Gate, GateKind, GateRuleContext, GateView, RoutingDecision } from './gate.js';
import { type GateEntry, MAX_WHITENED_WIDTH, QUERY_METRICS, SUBJECT_TESTS, SubjectIndex } from './subject-index.js';

const rule = (text: string, value: (context: GateRuleContext) => unknown): Rule<GateRuleContext> => ({ rule: text, value });

const SETTINGS = [
  {
    name: 'subjectBlock',
    type: 'integer',
    min: 0,
    scope: 'fixed',
    value: 'N',
    help: "block whose edited-kind linear's input holds the subject keys (below the first edited block)",
    default: rule('block 1, or 0 when the first edited block is 1', ({ core }) => Math.min(1, core.firstBlock - 1)),
  },
  {
    name: 'gateBlock',
    type: 'integer',
    min: 0,
    scope: 'run',
    value: 'N',
    help: "block whose edited-kind linear's input, at the last prompt token, is the gate query (at most the first edited block)",
    default: rule('the first edited block', ({ core }) => core.firstBlock),
  },
  {
    name: 'queryMetric',
    type: 'choice',
    choices: QUERY_METRICS,
    scope: 'run',
    help: 'how query distance is measured: Mahalanobis under the within-label scatter, or Euclidean',
    default: rule(`whitened up to ${MAX_WHITENED_WIDTH.toLocaleString('en')} wide`, ({ model, core }) =>
      siteInputWidth(model, core.site) <= MAX_WHITENED_WIDTH ? 'whitened' : 'euclidean',
    ),
  },
  {
    name: 'subjectRadius',
    type: 'number',
    min: 0,
    exclusive: true,
    scope: 'run',
    value: 'X',
    help: "radius around a subject's key, relative to the median key norm",
    default: 0.25,
  },
  {
    name: 'subjectTest',
    type: 'choice',
    choices: SUBJECT_TESTS,
    scope: 'run',
    help: "how an input is found to name an edit's subject: one token near the subject's last, or its whole token span (as in the prompt or as opening words)",
    default: 'span',
  },
  {
    name: 'queryRadius',
    type: 'number',
    min: 0,
    exclusive: true,
    scope: 'run',
    value: 'X',
    help: "radius around an edit's gate query, relative to the median distance between edits (whitened) or the median query norm (euclidean)",
    default: rule('0.55 whitened, 0.4 euclidean', ({ resolved }) => (resolved.queryMetric === 'whitened' ? 0.55 : 0.4)),
  },
  {
    name: 'scatterShrinkage',
    type: 'number',
    min: 0,
    exclusive: true,
    scope: 'run',
    value: 'X',
    help: 'shrinkage of the within-label scatter towards the identity (whitened metric), as a share of its mean eigenvalue',
    default: 0.03,
  },
  {
    name: 'matchedExperts',
    type: 'boolean',
    scope: 'run',
    help: "a matched input runs through its edit's experts (with the router's scores for them), not the router's top-k",
    default: true,
  },
] as const satisfies SettingsTable;

export type SubjectGateConfig = SettingsOf<typeof SETTINGS> & { readonly kind: 'subject' };

/** What the gate reads of a batch of prompts. */
interface SubjectInputs {
  /** Gate queries [B, in]. */
  gateQueries?: Tensor;
  /** Per sequence, the subject site's input at every prompt token, [tokens · in]. */
  tokenStates?: Float32Array[];
}

class SubjectGate implements Gate {
  readonly decisionSite: string;
  readonly deepestBlock: number;
  private readonly gateSite: string;
  private readonly subjectSite: string;
  /** Width of the subject site's input: one token's state. */
  private readonly keyWidth: number;
  private queryRadius: number;
  private built: SubjectIndex | null = null;

  constructor(
    private readonly config: SubjectGateConfig,
    private readonly core: ElderCore,
    private readonly view: GateView,
  ) {
    const { model } = core;
    this.gateSite = model.linearName(config.gateBlock, core.config.site);
    this.subjectSite = subjectSiteOf(model, core.config, config);
    // The later of the query and gate sites: at the first edited linear the gate decides before its experts apply.
    this.decisionSite = config.gateBlock >= core.config.firstBlock ? this.gateSite : core.querySite;
    this.deepestBlock = Math.max(config.gateBlock, config.subjectBlock);
    this.queryRadius = config.queryRadius;
    this.keyWidth = siteInputWidth(model.config, core.config.site);
  }

  captureKeys(hooks: Map<string, LinearHook>, queryRows: Int32Array, subjects: readonly (SubjectRows | null)[]): () => GateKeys[] {
    let gateQueries: Tensor | undefined;
    let spans: Array<Float32Array | null> = [];
    runBefore(hooks, this.gateSite, (input) => (gateQueries = selectRows(input, queryRows)));
    // Copied as the hook runs: the pass may reuse the input's buffer afterwards.
    runBefore(hooks, this.subjectSite, (input) => (spans = subjects.map((s) => (s === null ? null : rowsOf(input, s.start, s.end)))));
    return () => {
      const width = gateQueries!.lastDim;
      return spans.map((span, b) => ({
        gateQuery: gateQueries!.data.slice(b * width, (b + 1) * width),
        subjectKey: span === null ? null : span.slice(span.length - this.keyWidth),
        subjectSpan: span,
      }));
    };
  }

  captureOpening(hooks: Map<string, LinearHook>, ids: readonly number[]): () => GateKeys {
    let opening: Float32Array | null = null;
    // A tokenizer that opens every text with its start token puts it before the subject; it is not the subject's.
    const first = ids[0] === this.core.model.config.bosTokenId ? 1 : 0;
    runBefore(hooks, this.subjectSite, (input) => (opening = first >= ids.length ? null : rowsOf(input, first, ids.length - 1)));
    return () => ({ subjectOpening: opening });
  }

  captureInputs(hooks: Map<string, LinearHook>, queryRows: Int32Array): () => GateInputs {
    const inputs: SubjectInputs = {};
    runBefore(hooks, this.gateSite, (input) => (inputs.gateQueries = selectRows(input, queryRows)));
    runBefore(hooks, this.subjectSite, (input) => (inputs.tokenStates = promptTokenStates(input, queryRows)));
    return () => inputs as GateInputs;
  }

  decide(routing: Routing, codes: readonly RoutedCode[], inputs: GateInputs): RoutingDecision[] {
    const { gateQueries, tokenStates } = inputs as SubjectInputs;
    if (gateQueries === undefined || tokenStates === undefined)
      throw new Error('the subject gate needs the gate queries and the subject site states of every prompt token');
    const index = this.index();
    const width = gateQueries.lastDim;
    return codes.map((routed, b): RoutingDecision => {
      const verdict = codeVerdict(routed, this.view, this.core.config.epsilon);
      const matched = index.match(gateQueries.data.subarray(b * width, (b + 1) * width), tokenStates[b]);
      const deferred = verdict.deferred || matched === null;
      const experts = !deferred && this.config.matchedExperts ? this.routeAsEdit(routing, b, matched!) : routed.experts;
      return { ...verdict, deferred, matched, experts };
    });
  }

  invalidate(): void {
    this.built = null;
  }

  get radius(): GateRadius {
    return {
      value: this.queryRadius,
      set: (radius: number) => {
        checkSetting(SETTINGS.find((s) => s.name === 'queryRadius')!, radius);
        this.queryRadius = radius;
        this.built = null;
      },
    };
  }

  private index(): SubjectIndex {
    this.built ??= SubjectIndex.build(this.view.liveMemories().map(gateEntryOf), { ...this.config, queryRadius: this.queryRadius });
    return this.built;
  }

  /** Sets sequence b's selection to the experts of live edit `id` in every edited block (largest score first); returns them. */
  private routeAsEdit(routing: Routing, b: number, id: string): number[][] {
    const { topK: k, experts } = this.core.config;
    const chosen = decodeCode(this.view.codebook.get(id)!, this.core.blocks.length, experts);
    return chosen.map((picked, i) => {
      const scores = routing.scores[i].data.subarray(b * experts, (b + 1) * experts);
      const ordered = [...picked].sort((x, y) => scores[y] - scores[x]);
      routing.selection[i].set(ordered, b * k);
      return ordered;
    });
  }
}

/** Module name of the linear whose input holds the subject keys (at the subject's last token). */
export function subjectSiteOf(
  model: { linearName(block: number, local: string): string },
  core: Pick<CoreConfig, 'site'>,
  gate: Pick<SubjectGateConfig, 'subjectBlock'>,
): string {
  return model.linearName(gate.subjectBlock, core.site);
}

/** The index entry of a remembered edit: its gate query and the subject keys this gate captured. */
export function gateEntryOf(memory: EditMemory): GateEntry {
  const { keys } = memory;
  return {
    id: memory.id,
    label: memory.label,
    gateQuery: keys.gateQuery!,
    subjectKey: keys.subjectKey ?? null,
    subjectSpan: keys.subjectSpan ?? null,
    subjectOpening: keys.subjectOpening ?? null,
  };
}

/** Rows `start` … `end` of a linear's input [rows, in], copied. */
function rowsOf(input: Tensor, start: number, end: number): Float32Array {
  return input.data.slice(start * input.lastDim, (end + 1) * input.lastDim);
}

/** Each sequence's states at every prompt token, from a linear's input rows [B·T, in]: sequence b's tokens are rows b·T … queryRows[b]. */
export function promptTokenStates(input: Tensor, queryRows: Int32Array): Float32Array[] {
  const inDim = input.lastDim;
  const steps = input.rows / queryRows.length;
  return Array.from(queryRows, (last, b) => input.data.slice(b * steps * inDim, (last + 1) * inDim));
}

function validate(config: SubjectGateConfig, core: CoreConfig, model: ModelConfig): void {
  if (config.subjectBlock >= core.firstBlock)
    throw new UsageError(`ELDER subject block ${config.subjectBlock} must be a block below the first edited block ${core.firstBlock}`);
  if (config.gateBlock > core.firstBlock)
    throw new UsageError(
      `ELDER gate block ${config.gateBlock} must be a block from 0 to the first edited block ${core.firstBlock} (the experts change what lies above)`,
    );
  const width = siteInputWidth(model, core.site);
  if (config.queryMetric === 'whitened' && width > MAX_WHITENED_WIDTH)
    throw new UsageError(`ELDER query metric "whitened" needs a gate query at most ${MAX_WHITENED_WIDTH} wide; ${core.site} takes ${width} (use "euclidean")`);
}

export const SUBJECT_GATE: GateKind<SubjectGateConfig> = {
  kind: 'subject',
  summary:
    "an input uses the experts only when its code is within ε and it is near one live edit twice, in its state entering the first edited linear and in some token's state at the edit's subject",
  settings: SETTINGS,
  validate,
  create: (config, core, view) => new SubjectGate(config, core, view),
  describe: (c) => {
    return `code distance and subject gate (${c.subjectTest} subject test at block ${c.subjectBlock}, ${c.queryMetric} query at block ${c.gateBlock}, radii ${c.subjectRadius} / ${c.queryRadius}${c.matchedExperts ? ', matched experts' : ''})`;
  },
  // States written before the gate's metric existed measured Euclidean distance at the router's query, radius 0.4, through the router's experts.
  fromLegacy: (flat, core) => ({
    subjectBlock: Math.min(1, core.firstBlock - 1),
    gateBlock: core.firstBlock - 1,
    queryMetric: 'euclidean',
    subjectRadius: 0.25,
    queryRadius: 0.4,
    matchedExperts: false,
    subjectTest: 'last-token',
    ...Object.fromEntries(SETTINGS.filter((s) => flat[s.name] !== undefined).map((s) => [s.name, flat[s.name]])),
  }),
};
