/** Where the baselines edit: the same linear and blocks as ELDER, so every method changes the same part of the model. */
import type { DecoderLM } from '../../models/decoder.js';
import { ShapeError } from '../../util/errors.js';
import { defaultElderConfig } from '../elder/config.js';

export interface EditSite {
  /** Local name of the linear in each block (GPT-2 `mlp.c_fc`, LLaMA `mlp.down_proj`). */
  site: string;
  firstLayer: number;
  lastLayer: number;
}

export function defaultSite(model: DecoderLM): EditSite {
  const { site, firstLayer, lastLayer } = defaultElderConfig(model.config);
  return { site, firstLayer, lastLayer };
}

/** Input and output widths of the site linear in `layer`. */
export function siteShape(model: DecoderLM, site: string, layer: number): { inDim: number; outDim: number } {
  const weight = model.parameters.get(`${model.linearName(layer, site)}.weight`);
  if (weight === undefined) throw new ShapeError(`"${site}" is not a linear layer of block ${layer} (${model.blockLinears.join(', ')})`);
  const [a, b] = weight.shape;
  return model.config.architecture === 'gpt2' ? { inDim: a, outDim: b } : { inDim: b, outDim: a };
}

export function layerRange(site: EditSite): number[] {
  return Array.from({ length: site.lastLayer - site.firstLayer + 1 }, (_, i) => site.firstLayer + i);
}
