/**
 * Where editors edit: which linear of each block (the site) and which blocks.
 * Every method defaults to ELDER's choice, so that all of them change the
 * same part of the model.
 */
import type { ModelConfig } from '../../models/config.js';
import type { DecoderLM } from '../../models/decoder.js';
import { layoutOf } from '../../models/layout.js';
import { UsageError } from '../../util/errors.js';

export interface EditSite {
  /** Local name of the linear in each block (GPT-2 `mlp.c_fc`, LLaMA `mlp.down_proj`). */
  site: string;
  firstBlock: number;
  lastBlock: number;
}

/** The paper's edited linear: GPT-2's `mlp.c_fc`, LLaMA's `mlp.down_proj`. */
export function defaultSiteKind(config: ModelConfig): string {
  return layoutOf(config).paperSite;
}

/**
 * The MLP's output projection (GPT-2 `mlp.c_proj`, LLaMA `mlp.down_proj`):
 * the linear locate-then-edit methods rewrite, reading its input as a key
 * and its output as the key's value (ROME's key–value view of the MLP).
 */
export function mlpOutputSite(config: ModelConfig): string {
  return layoutOf(config).mlpOutput;
}

/** Throws a UsageError unless `block` is a block of the model. */
export function checkBlock(config: ModelConfig, block: number, what: string): void {
  if (!Number.isInteger(block) || block < 0 || block >= config.layers) {
    throw new UsageError(`${what} ${block} is not a block of this model (0..${config.layers - 1})`);
  }
}

export function defaultSite(model: DecoderLM): EditSite {
  return { site: defaultSiteKind(model.config), ...defaultBlockRange(model.config.layers) };
}

/**
 * Blocks edited by default: six, ending at ~84% of the depth (GPT2-XL: 35–40
 * of 48; LLaMA2-7B: 21–26 of 32), and never so many that the router query
 * (taken one block below the first edited one) comes from the lower half of
 * the model. There the last token has not yet gathered the subject, so a
 * held-out rephrasing's query lies far from its own fact's
 * (docs/decisions.md, `elder eval-base`'s separation). So shallow models get
 * fewer edited blocks: elder-facts (8 blocks) 5–6, GPT-2 small 7–10, a
 * 4-block model 3 only; deep ones keep the paper's six.
 */
export function defaultBlockRange(layers: number, count = 6): { firstBlock: number; lastBlock: number } {
  const { lastBlock, firstBlock } = paperBlockRange(layers, count);
  return { firstBlock: Math.min(lastBlock, Math.max(firstBlock, Math.floor(layers / 2) + 1)), lastBlock };
}

/** The paper's rule alone: `count` blocks ending at ~84% of the depth, the query from the block below. */
export function paperBlockRange(layers: number, count = 6): { firstBlock: number; lastBlock: number } {
  if (layers < 2) throw new UsageError(`ELDER needs at least 2 blocks (one below the edited ones for the query); the model has ${layers}`);
  const lastBlock = Math.max(1, Math.min(layers - 1, Math.floor(0.84 * layers)));
  return { firstBlock: Math.max(1, lastBlock - count + 1), lastBlock };
}

/** Input width of a block's linear from the configuration alone: the FFN's down projection reads the FFN width, every other linear the model width. */
export function siteInputWidth(config: ModelConfig, site: string): number {
  return site === layoutOf(config).mlpOutput ? config.ffnWidth : config.width;
}

/** Input and output widths of the site linear in block `block`. */
export function siteShape(model: DecoderLM, site: string, block: number): { inDim: number; outDim: number } {
  return model.linearShape(block, site);
}

export function blockRange(site: EditSite): number[] {
  return Array.from({ length: site.lastBlock - site.firstBlock + 1 }, (_, i) => site.firstBlock + i);
}
