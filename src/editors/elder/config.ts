/**
 * ELDER's hyper-parameters. The paper (Li et al., AAAI 2025) uses L = 6 edited
 * blocks, N = 4 experts of rank r = 8 (α = 8), top-k = 2, λ = 1e-2, ε = 12 for
 * its 24-bit codes, Adam lr 1e-4, batch 4, 50 iterations: {@link paperElderConfig}.
 * elder's default ({@link defaultElderConfig}) keeps the architecture, the
 * losses and the batch, and departs from the paper where the facts benchmark
 * (`elder bench-edit`, first 100 records of bench/data/facts/counterfact.json,
 * on elder-facts; reliability / generalization / locality, %) showed it:
 * - lr 2e-3, not 1e-4: at 1e-4 fifty iterations barely move a 256-wide model
 *   (paper preset 3.5 / 2.5 / 38.2); see `lr`;
 * - replaying 8 earlier edits per iteration (`replay`);
 * - fresh codes (`freshCodes`);
 * - the subject gate next to the code gate (`gate`), measuring query
 *   distance in the metric of within-label scatter (`queryMetric`) at the
 *   first edited linear's input (`gateBlock`);
 * - rank 64 (α 64, the same scale α/r = 1): on 1,000 sequential edits with
 *   the subject gate, 98.7 / 61.9 / 99.2 against rank 32's 98.4 / 59.0 / 99.2
 *   and rank 16's 97.0 / 53.1 / 99.2 (rank 32 at α 64: 96.1 / 56.4 / 99.2);
 *   with the earlier code gate rank 16 gave 97.8 / 32.2 / 98.2 against rank
 *   8's 88.8 / 24.1 / 98.3 (8 experts of rank 8 instead: 89.5 / 26.1 / 98.2);
 * - fewer edited blocks on shallow models ({@link defaultBlockRange}).
 */
import type { ModelConfig } from '../../models/config.js';
import { UsageError } from '../../util/errors.js';
import { defaultBlockRange, defaultSiteKind, paperBlockRange, siteInputWidth } from '../common/sites.js';
import { MAX_WHITENED_WIDTH, QUERY_METRICS, type QueryMetric } from './gate.js';

export type RoutingLoss = 'guided' | 'none' | 'balance';
export const ROUTING_LOSSES: readonly RoutingLoss[] = ['guided', 'none', 'balance'];

/**
 * Where a configuration's defaults come from: elder's own (`elder`, tuned on
 * elder-facts; each deviation from the paper is documented with the number
 * that justified it) or the paper's exact algorithm and settings (`paper`).
 */
export type ElderPreset = 'elder' | 'paper';
export const ELDER_PRESETS: readonly ElderPreset[] = ['elder', 'paper'];

export interface ElderConfig {
  /** The defaults this configuration started from (overrides may change any field). */
  preset: ElderPreset;
  /** Local name of the edited linear in each block (GPT-2 `mlp.c_fc`, LLaMA `mlp.down_proj`). */
  site: string;
  /** First and last edited block, inclusive. The query is taken from block `firstBlock − 1`. */
  firstBlock: number;
  lastBlock: number;
  experts: number;
  rank: number;
  alpha: number;
  topK: number;
  /**
   * The routing loss next to the LM loss: ELDER's guided loss towards each
   * label's pre-assigned experts, none (ablation), or a Switch-Transformer
   * load-balancing loss (ablation of the paper's Table 4). λ weighs either.
   */
  routingLoss: RoutingLoss;
  /** Weight of the routing loss. */
  lambda: number;
  /** Deferral radius: a Hamming distance ≥ ε to every stored code runs the base model. */
  epsilon: number;
  /**
   * Adam's learning rate. Default 2e-3 (the paper: 1e-4, which suits GPT2-XL's
   * widths). With replay 8 and fresh codes on the facts benchmark (100
   * records): 2e-3 gave 97.5 / 58.5 / 23.5 and 5e-3 98.5 / 64.0 / 7.4 (a faster
   * lr learns rephrasings a little better and disturbs far more unrelated
   * answers); 1e-2 did worse than 5e-3 in every column.
   */
  lr: number;
  iterations: number;
  batchSize: number;
  /** Stop a batch's iterations once every target token is the argmax. */
  earlyStop: boolean;
  /**
   * Train each edit's target followed by its ending, what the base model says
   * after its own answer (`editors/ending.ts`), so that the edited answer
   * ends as the model's own answers do instead of repeating the new object.
   * The paper trains the target alone.
   */
  trainEnding: boolean;
  seed: number;
  /**
   * Which experts a batch trains through: the router's current top-k (the
   * paper's description) or each label's pre-assigned allocation (`preset`,
   * the official code's "hard" target), so an edit's experts are its own from
   * the first iteration whatever the router says yet. Default `router`: with
   * lr 5e-3, replay 8 and fresh codes on the facts benchmark (100 records),
   * `router` gave 98.5 / 64.0 / 7.4 and `preset` 68.5 / 45.0 / 4.4.
   */
  trainRouting: TrainRouting;
  /**
   * Earlier edits replayed in every iteration next to the batch (0: none, the
   * paper). Old edits share experts with new ones; without rehearsal each batch
   * overwrites what earlier batches put there. Default 8: on the facts
   * benchmark (100 records, lr 5e-3, fresh codes) 98.5 / 64.0 / 7.4 with 8
   * against 6.0 / 3.5 / 4.8 with none, at 0.51 s per edit instead of 0.21.
   */
  replay: number;
  /**
   * Recompute every live edit's code from its remembered query after each
   * batch (needs remembered edits), instead of keeping the code its own batch
   * gave it. Later batches move the routers, so a stored code goes stale and
   * its edit's own prompt drifts towards deferral. Default on: after 100
   * records, 25.5% of stored codes still matched the routers without it,
   * 100% with it.
   */
  freshCodes: boolean;
  /**
   * Which inputs may use the experts. `code` (the paper): an input whose
   * allocation code is ≥ ε bits from every stored code defers to the base
   * model. `subject` adds a second test: the input must also lie near one
   * live edit twice, its router query within `queryRadius` of the edit's
   * query and, where the edit named its subject, some token's state at block
   * `subjectBlock` within `subjectRadius` of the state at the subject's last
   * token. Radii are relative to the median norm of the stored vectors.
   */
  gate: ElderGate;
  /** Block whose edited-kind linear input holds the subject keys (below the first edited block). */
  subjectBlock: number;
  /**
   * Block whose edited-kind linear input, at the last prompt token, is the
   * subject gate's query. Default: the first edited block. Its linear's input
   * is computed before any expert acts (the experts change that linear's
   * output), so it is still the base model's, and one block deeper than the
   * router's query it separates facts better: on elder-facts (1,000 records,
   * whitened metric) 74% of held-out rephrasings admitted at 1.4% of other
   * facts, against 62% at 2.3% at the router's block. States made before
   * this setting existed keep the router's block (first edited block − 1).
   */
  gateBlock: number;
  /**
   * How the subject gate measures query distance (see `gate.ts`). Default
   * `whitened` (Mahalanobis under the within-label scatter) for queries up
   * to 2,048 wide, `euclidean` above; states made before it existed keep
   * `euclidean`.
   */
  queryMetric: QueryMetric;
  /**
   * Subject radius, relative to the median norm of the stored subject keys.
   * Default 0.25: 0.35 admitted the same held-out rephrasings (74.2%) on
   * elder-facts at 1,000 records.
   */
  subjectRadius: number;
  /**
   * Query radius: relative to the median whitened distance between different
   * labels' gate queries (`whitened`), or to their median norm (`euclidean`).
   * Default 0.5 (whitened): on elder-facts with the first 1,000 records'
   * 2,000 edits stored, offline, 74% of held-out rephrasings matched their own
   * edit and 1.4% of other subjects' same-relation facts matched some edit
   * (0.45: 64% / 0.9%; 0.55: 81% / 4.2%). Euclidean states keep 0.4.
   */
  queryRadius: number;
  /**
   * With the subject gate, an input that matched a live edit runs through
   * that edit's experts (its stored code) instead of the router's top-k for
   * the input, with the router's scores for them. Default on: the gate has
   * already said which edit the input is, and a rephrasing's router query
   * may pick other experts. Inference only; on the same trained experts
   * (facts benchmark, 100 records) 100 / 68.0 / 99.6 with it, 100 / 65.5 /
   * 99.6 without.
   */
  matchedExperts: boolean;
}

export type ElderGate = 'code' | 'subject';
export const ELDER_GATES: readonly ElderGate[] = ['code', 'subject'];

export type TrainRouting = 'router' | 'preset';
export const TRAIN_ROUTINGS: readonly TrainRouting[] = ['router', 'preset'];

/**
 * Default ε: half of the code's L·N bits. The paper's ε = 12 is exactly that for
 * its L = 6, N = 4 codes (24 bits); other shapes keep the same fraction.
 */
export function defaultEpsilon(layerCount: number, experts: number): number {
  return Math.max(1, Math.round((layerCount * experts) / 2));
}

/**
 * The subject gate's settings by default: keys one block above the
 * embeddings (never at or above the first edited block), the gate's query at
 * the first edited linear's input, whitened where the query is at most
 * {@link MAX_WHITENED_WIDTH} wide; radii 0.25 and 0.5 (0.4 for `euclidean`).
 */
export function subjectGateDefaults(
  model: ModelConfig,
  firstBlock: number,
  site: string = defaultSiteKind(model),
): Pick<ElderConfig, 'subjectBlock' | 'gateBlock' | 'queryMetric' | 'subjectRadius' | 'queryRadius'> {
  const queryMetric: QueryMetric = siteInputWidth(model, site) <= MAX_WHITENED_WIDTH ? 'whitened' : 'euclidean';
  return {
    subjectBlock: Math.min(1, firstBlock - 1),
    gateBlock: firstBlock,
    queryMetric,
    subjectRadius: 0.25,
    queryRadius: queryMetric === 'whitened' ? 0.5 : 0.4,
  };
}

/**
 * The subject gate as states made before `gateBlock` and `queryMetric` existed
 * ran it: the router's query, Euclidean, radius 0.4.
 */
export function legacySubjectGate(firstBlock: number): Pick<ElderConfig, 'subjectBlock' | 'gateBlock' | 'queryMetric' | 'subjectRadius' | 'queryRadius'> {
  return { subjectBlock: Math.min(1, firstBlock - 1), gateBlock: firstBlock - 1, queryMetric: 'euclidean', subjectRadius: 0.25, queryRadius: 0.4 };
}

/** The configuration of a preset, with overrides. */
export function presetElderConfig(preset: ElderPreset, model: ModelConfig, overrides: Partial<ElderConfig> = {}): ElderConfig {
  if (!ELDER_PRESETS.includes(preset)) throw new UsageError(`ELDER preset must be one of ${ELDER_PRESETS.join(', ')}, got "${String(preset)}"`);
  return preset === 'paper' ? paperElderConfig(model, overrides) : defaultElderConfig(model, overrides);
}

/**
 * The paper's ELDER exactly: six edited blocks ending at 84% of the depth,
 * training through the router's top-k, no rehearsal, codes kept as their
 * batch left them, Adam lr 1e-4 for 50 iterations on batches of 4.
 */
export function paperElderConfig(model: ModelConfig, overrides: Partial<ElderConfig> = {}): ElderConfig {
  const range = paperBlockRange(model.layers);
  return defaultElderConfig(model, {
    rank: 8,
    alpha: 8,
    lr: 1e-4,
    trainRouting: 'router',
    replay: 0,
    freshCodes: false,
    gate: 'code',
    matchedExperts: false,
    trainEnding: false,
    ...range,
    ...overrides,
    preset: 'paper',
  });
}

/** elder's default configuration (see {@link ElderConfig} for each deviation from the paper and why). */
export function defaultElderConfig(model: ModelConfig, overrides: Partial<ElderConfig> = {}): ElderConfig {
  const range = defaultBlockRange(model.layers);
  const experts = overrides.experts ?? 4;
  const firstBlock = overrides.firstBlock ?? range.firstBlock;
  const lastBlock = overrides.lastBlock ?? range.lastBlock;
  const config: ElderConfig = {
    preset: 'elder',
    site: defaultSiteKind(model),
    firstBlock,
    lastBlock,
    experts,
    rank: 64,
    // α follows the rank unless given, keeping the scale α/r at 1 when only the rank is changed.
    alpha: overrides.rank ?? 64,
    topK: 2,
    routingLoss: 'guided',
    lambda: 1e-2,
    epsilon: defaultEpsilon(lastBlock - firstBlock + 1, experts),
    lr: 2e-3,
    iterations: 50,
    batchSize: 4,
    earlyStop: false,
    trainEnding: true,
    seed: 0,
    trainRouting: 'router',
    replay: 8,
    freshCodes: true,
    gate: 'subject',
    matchedExperts: true,
    ...subjectGateDefaults(model, firstBlock, overrides.site),
    ...overrides,
  };
  validateElderConfig(config, model);
  return config;
}

export function validateElderConfig(config: ElderConfig, model: ModelConfig): void {
  const positiveInt = (name: keyof ElderConfig) => {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
      throw new UsageError(`ELDER ${name} must be a positive integer, got ${String(value)}`);
  };
  (['experts', 'rank', 'topK', 'iterations', 'batchSize'] as const).forEach(positiveInt);
  if (!Number.isInteger(config.replay) || config.replay < 0) throw new UsageError(`ELDER replay must be an integer ≥ 0, got ${String(config.replay)}`);
  if (!ELDER_PRESETS.includes(config.preset)) throw new UsageError(`ELDER preset must be one of ${ELDER_PRESETS.join(', ')}, got "${String(config.preset)}"`);
  if (typeof config.matchedExperts !== 'boolean') throw new UsageError(`ELDER matchedExperts must be true or false, got ${String(config.matchedExperts)}`);
  if (typeof config.trainEnding !== 'boolean') throw new UsageError(`ELDER trainEnding must be true or false, got ${String(config.trainEnding)}`);
  if (typeof config.freshCodes !== 'boolean') throw new UsageError(`ELDER freshCodes must be true or false, got ${String(config.freshCodes)}`);
  if (!TRAIN_ROUTINGS.includes(config.trainRouting))
    throw new UsageError(`ELDER train routing must be one of ${TRAIN_ROUTINGS.join(', ')}, got ${String(config.trainRouting)}`);
  if (config.topK > config.experts) throw new UsageError(`ELDER top-k ${config.topK} exceeds the ${config.experts} experts`);
  if (
    !Number.isInteger(config.firstBlock) ||
    !Number.isInteger(config.lastBlock) ||
    config.firstBlock < 1 ||
    config.lastBlock < config.firstBlock ||
    config.lastBlock >= model.layers
  ) {
    throw new UsageError(
      `ELDER blocks ${config.firstBlock}-${config.lastBlock} must satisfy 1 ≤ first ≤ last < ${model.layers} (block first−1 provides the query)`,
    );
  }
  for (const name of ['alpha', 'lambda', 'lr', 'epsilon'] as const) {
    if (!Number.isFinite(config[name]) || config[name] < 0) throw new UsageError(`ELDER ${name} must be a finite number ≥ 0, got ${config[name]}`);
  }
  if (!(config.lr > 0)) throw new UsageError('ELDER lr must be > 0');
  // Codes of k experts in each of L layers differ in at most 2·k·L bits (and never in more than L·N).
  const bits = (config.lastBlock - config.firstBlock + 1) * config.experts;
  const maxDistance = Math.min(bits, 2 * config.topK * (config.lastBlock - config.firstBlock + 1));
  if (config.epsilon > maxDistance) {
    throw new UsageError(
      `ELDER epsilon ${config.epsilon} exceeds the largest possible distance between two codes (${maxDistance} bits for top-${config.topK} of ${config.experts} experts in ${bits / config.experts} layers): nothing would ever be deferred`,
    );
  }
  if (!ELDER_GATES.includes(config.gate)) throw new UsageError(`ELDER gate must be one of ${ELDER_GATES.join(', ')}, got "${String(config.gate)}"`);
  if (!Number.isInteger(config.subjectBlock) || config.subjectBlock < 0 || config.subjectBlock >= config.firstBlock) {
    throw new UsageError(`ELDER subject block ${String(config.subjectBlock)} must be a block below the first edited block ${config.firstBlock}`);
  }
  if (!Number.isInteger(config.gateBlock) || config.gateBlock < 0 || config.gateBlock > config.firstBlock) {
    throw new UsageError(
      `ELDER gate block ${String(config.gateBlock)} must be a block from 0 to the first edited block ${config.firstBlock} (the experts change what lies above)`,
    );
  }
  if (!QUERY_METRICS.includes(config.queryMetric))
    throw new UsageError(`ELDER query metric must be one of ${QUERY_METRICS.join(', ')}, got "${String(config.queryMetric)}"`);
  if (config.gate === 'subject' && config.queryMetric === 'whitened') {
    const width = siteInputWidth(model, config.site);
    if (width > MAX_WHITENED_WIDTH)
      throw new UsageError(
        `ELDER query metric "whitened" needs a gate query at most ${MAX_WHITENED_WIDTH} wide; ${config.site} takes ${width} (use "euclidean")`,
      );
  }
  for (const name of ['subjectRadius', 'queryRadius'] as const) {
    if (!Number.isFinite(config[name]) || config[name] <= 0) throw new UsageError(`ELDER ${name} must be a finite number > 0, got ${config[name]}`);
  }
  if (!ROUTING_LOSSES.includes(config.routingLoss))
    throw new UsageError(`ELDER routing loss must be one of ${ROUTING_LOSSES.join(', ')}, got ${String(config.routingLoss)}`);
}

/** The linear whose input is the router query: the edited kind of linear, one block below the first edited block. */
export function querySiteOf(model: { linearName(layer: number, local: string): string }, config: Pick<ElderConfig, 'firstBlock' | 'site'>): string {
  return model.linearName(config.firstBlock - 1, config.site);
}

/** Module name of the linear whose input holds the subject gate's keys (at the subject's last token). */
export function subjectSiteOf(model: { linearName(layer: number, local: string): string }, config: Pick<ElderConfig, 'subjectBlock' | 'site'>): string {
  return model.linearName(config.subjectBlock, config.site);
}

export function editedBlocks(config: ElderConfig): number[] {
  return Array.from({ length: config.lastBlock - config.firstBlock + 1 }, (_, i) => config.firstBlock + i);
}
