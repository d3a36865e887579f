/**
 * The paper's fixed shape of ELDER: where the mixture sits, how many experts
 * of what rank, top-k, the routing loss and its weight λ, the deferral radius
 * ε, the seed. Everything here but λ and the routing loss shapes the weights
 * or the codes, so a state keeps it from creation on.
 */
import type { ModelConfig } from '../../models/config.js';
import { UsageError } from '../../util/errors.js';
import { defaultSiteKind, paperBlockRange } from '../common/sites.js';
import { checkSettings, type Rule, type SettingsOf, type SettingsTable } from './settings.js';

export type RoutingLoss = 'guided' | 'none' | 'balance';
export const ROUTING_LOSSES: readonly RoutingLoss[] = ['guided', 'none', 'balance'];

/** What a core setting's default rule may read: the model, and the settings resolved before it (table order). */
export interface CoreRuleContext {
  model: ModelConfig;
  resolved: Record<string, unknown>;
}

const rule = (text: string, value: (context: CoreRuleContext) => unknown): Rule<CoreRuleContext> => ({ rule: text, value });

/** The paper's edited blocks: six ending at 84% of the depth. */
export const PAPER_BLOCKS = blockRules('six ending at 84% of the depth', paperBlockRange);

/** The core's settings, with the paper's values as their defaults. */
export const CORE_SETTINGS = [
  {
    name: 'site',
    type: 'string',
    scope: 'fixed',
    value: 'NAME',
    help: 'local name of the edited linear in each block',
    default: rule("the model's FFN input (GPT-2 mlp.c_fc, LLaMA mlp.down_proj)", ({ model }) => defaultSiteKind(model)),
  },
  {
    name: 'firstBlock',
    type: 'integer',
    min: 1,
    scope: 'fixed',
    flag: 'blocks',
    pairedWith: 'lastBlock',
    help: 'first and last edited block (the router query is read one block below)',
    default: PAPER_BLOCKS.firstBlock,
  },
  { name: 'lastBlock', type: 'integer', min: 1, scope: 'fixed', paired: true, help: 'last edited block', default: PAPER_BLOCKS.lastBlock },
  { name: 'experts', type: 'integer', min: 1, scope: 'fixed', value: 'N', help: 'LoRA experts per edited block (N)', default: 4 },
  { name: 'rank', type: 'integer', min: 1, scope: 'fixed', value: 'R', help: 'rank of each expert', default: 8 },
  { name: 'alpha', type: 'number', min: 0, scope: 'fixed', value: 'X', help: 'LoRA scale numerator: an expert adds (α / rank)·x·A·B', default: 8 },
  {
    name: 'topK',
    type: 'integer',
    min: 1,
    scope: 'fixed',
    flag: 'top-k',
    value: 'K',
    help: 'experts used per block, weighed by their router scores (not renormalised)',
    default: 2,
  },
  {
    name: 'routingLoss',
    type: 'choice',
    choices: ROUTING_LOSSES,
    scope: 'run',
    help: "the routing loss: guided (towards each label's allocation), none or balance (ablations)",
    default: 'guided',
  },
  { name: 'lambda', type: 'number', min: 0, scope: 'run', value: 'X', help: 'weight of the routing loss', default: 1e-2 },
  {
    name: 'epsilon',
    type: 'number',
    min: 0,
    scope: 'fixed',
    value: 'E',
    help: 'code distance at which an input defers to the base model',
    default: rule('half the code bits', ({ resolved }) =>
      Math.max(1, Math.round((((resolved.lastBlock as number) - (resolved.firstBlock as number) + 1) * (resolved.experts as number)) / 2)),
    ),
  },
  {
    name: 'seed',
    type: 'integer',
    min: Number.MIN_SAFE_INTEGER,
    scope: 'fixed',
    value: 'S',
    help: 'seed of the initial weights and the allocations',
    default: 0,
  },
] as const satisfies SettingsTable;

export type CoreConfig = SettingsOf<typeof CORE_SETTINGS>;

/** α follows the rank, so that changing the rank alone keeps the scale α/r. */
export const SAME_AS_RANK: Rule<CoreRuleContext> = rule('the rank', ({ resolved }) => resolved.rank);

/** The edited blocks: `first` and `last` rules for one block range. */
export function blockRules(
  rule: string,
  range: (layers: number) => { firstBlock: number; lastBlock: number },
): Record<'firstBlock' | 'lastBlock', Rule<CoreRuleContext>> {
  return {
    firstBlock: { rule, value: ({ model }) => range(model.layers).firstBlock },
    lastBlock: { rule, value: ({ model }) => range(model.layers).lastBlock },
  };
}

export function validateCore(core: CoreConfig, model: ModelConfig): void {
  const blocksFit = [core.firstBlock, core.lastBlock].every(Number.isInteger) && core.firstBlock >= 1 && core.lastBlock >= core.firstBlock;
  if (!blocksFit || core.lastBlock >= model.layers) {
    throw new UsageError(
      `ELDER blocks ${core.firstBlock}-${core.lastBlock} must satisfy 1 ≤ first ≤ last < ${model.layers} (block first−1 provides the query)`,
    );
  }
  checkSettings(CORE_SETTINGS, core);
  if (core.topK > core.experts) throw new UsageError(`ELDER top-k ${core.topK} exceeds the ${core.experts} experts`);
  // Codes of k experts in each of L blocks differ in at most 2·k·L bits (and never in more than L·N).
  const blocks = core.lastBlock - core.firstBlock + 1;
  const maxDistance = Math.min(blocks * core.experts, 2 * core.topK * blocks);
  if (core.epsilon > maxDistance) {
    throw new UsageError(
      `ELDER epsilon ${core.epsilon} exceeds the largest possible distance between two codes (${maxDistance} bits for top-${core.topK} of ${core.experts} experts in ${blocks} blocks): nothing would ever be deferred`,
    );
  }
}

/** The edited blocks, in the order of each code's layers. */
export function editedBlocks(core: Pick<CoreConfig, 'firstBlock' | 'lastBlock'>): number[] {
  return Array.from({ length: core.lastBlock - core.firstBlock + 1 }, (_, i) => core.firstBlock + i);
}

/** The linear whose input is the router query: the edited kind of linear, one block below the first edited block. */
export function querySiteOf(model: { linearName(block: number, local: string): string }, core: Pick<CoreConfig, 'firstBlock' | 'site'>): string {
  return model.linearName(core.firstBlock - 1, core.site);
}
