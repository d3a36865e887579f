/**
 * The mixture of LoRA experts on one linear per edited block, each block with
 * its router (router.ts). Parameters are named `layer{i}.router.weight`
 * [N, in], `layer{i}.router.bias` [N], `layer{i}.expert{j}.A` [in, r] and
 * `layer{i}.expert{j}.B` [r, out], i the block index.
 */

import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { add } from '../../tensor/ops/arithmetic.js';
import { type LoraExpert, routedLora } from '../../tensor/ops/lora.js';
import { Tensor } from '../../tensor/tensor.js';
import { ShapeError } from '../../util/errors.js';
import { Random } from '../../util/random.js';
import { type CoreConfig, editedBlocks } from './core-config.js';
import { type Router, type Routing, route } from './router.js';

export interface MixtureLayer {
  /** Block index (stored tensor names keep `layer{block}`). */
  block: number;
  router: Router;
  experts: LoraExpert[];
}

export class MixtureOfLora {
  readonly layers: MixtureLayer[];
  readonly inDim: number;
  readonly outDim: number;

  constructor(
    readonly config: CoreConfig,
    model: DecoderLM,
    initSeed = config.seed,
  ) {
    const block = model.parameters;
    const weight = block.get(`${model.linearName(config.firstBlock, config.site)}.weight`);
    if (weight === undefined)
      throw new ShapeError(`ELDER site "${config.site}" is not a linear layer of this ${model.config.architecture} model (${model.blockLinears.join(', ')})`);
    ({ inDim: this.inDim, outDim: this.outDim } = model.linearShape(config.firstBlock, config.site));
    const rng = new Random(initSeed);
    // PyTorch's defaults: router and A uniform(±1/√in) (kaiming-uniform, a = √5); B zero so edits start from the base model.
    const bound = 1 / Math.sqrt(this.inDim);
    const uniform = (shape: number[]) => {
      const t = Tensor.zeros(shape, true);
      for (let i = 0; i < t.size; i++) t.data[i] = (rng.uniform() * 2 - 1) * bound;
      return t;
    };
    this.layers = editedBlocks(config).map((block) => ({
      block,
      router: { weight: uniform([config.experts, this.inDim]), bias: uniform([config.experts]) },
      experts: Array.from({ length: config.experts }, () => ({ A: uniform([this.inDim, config.rank]), B: Tensor.zeros([config.rank, this.outDim], true) })),
    }));
  }

  /** Every trainable tensor under its stored name. */
  namedParameters(): Map<string, Tensor> {
    const named = new Map<string, Tensor>();
    for (const { block, router, experts } of this.layers) {
      named.set(`layer${block}.router.weight`, router.weight);
      named.set(`layer${block}.router.bias`, router.bias);
      experts.forEach(({ A, B }, j) => {
        named.set(`layer${block}.expert${j}.A`, A);
        named.set(`layer${block}.expert${j}.B`, B);
      });
    }
    return named;
  }

  parameters(): Tensor[] {
    return [...this.namedParameters().values()];
  }

  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Replaces every parameter's values (e.g. a state folder's committed weights); shapes must match exactly. */
  loadValues(values: ReadonlyMap<string, { data: Float32Array; shape: readonly number[] }>, source: string): void {
    for (const [name, tensor] of this.namedParameters()) {
      const stored = values.get(name);
      if (stored === undefined) throw new ShapeError(`${source}: missing ELDER tensor "${name}"`);
      if (stored.shape.length !== tensor.shape.length || stored.shape.some((d, i) => d !== tensor.shape[i])) {
        throw new ShapeError(`${source}: ELDER tensor "${name}" has shape [${stored.shape.join(', ')}], expected [${tensor.shape.join(', ')}]`);
      }
      tensor.data.set(stored.data);
    }
  }

  /** Routes a batch of queries [B, in] through every block's router. */
  route(query: Tensor): Routing {
    return route(
      this.layers.map((layer) => layer.router),
      query,
      this.config.experts,
      this.config.topK,
    );
  }

  /** Hooks adding each layer's selected experts to its linear's output. */
  hooks(model: DecoderLM, routing: Routing): Map<string, LinearHook> {
    const scale = this.config.alpha / this.config.rank;
    const hooks = new Map<string, LinearHook>();
    this.layers.forEach((layer, i) => {
      hooks.set(model.linearName(layer.block, this.config.site), (input, output) =>
        add(output, routedLora(input, layer.experts, routing.scores[i], routing.selection[i], this.config.topK, scale)),
      );
    });
    return hooks;
  }
}
