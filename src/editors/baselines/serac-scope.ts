/**
 * SERAC's scope classifier: does an input fall under a stored edit? Here a
 * dual encoder over the model's own states (SERAC's "embedding" variant of
 * the classifier, with the model itself as the encoder): an input's features
 * are the mean and the last token of one linear's input over the prompt, a
 * learned projection maps them to an embedding on the unit sphere, and an
 * input is in scope of the stored edit whose embedding is nearest in cosine,
 * when that cosine reaches a threshold.
 *
 * It is trained contrastively (InfoNCE over a batch of facts) on groups of
 * phrasings, each group one fact, drawn from records no evaluated edit comes
 * from (the benchmark's training split); the threshold is calibrated on a
 * held-back fifth of those groups. It remembers the weights it was trained
 * on (their fingerprint), and an editor refuses it for other weights.
 */
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { weightsFingerprint } from '../../models/fingerprint.js';
import { scale } from '../../tensor/ops/arithmetic.js';
import { crossEntropy } from '../../tensor/ops/crossentropy.js';
import { linear, matmul } from '../../tensor/ops/matmul.js';
import { rmsNorm } from '../../tensor/ops/rmsnorm.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { ElderError, UsageError } from '../../util/errors.js';
import { Random } from '../../util/random.js';
import { padTokenId } from '../common/batch.js';
import { trainLoop } from '../common/train-loop.js';
import { frozenBlocks } from '../editor.js';

/** A scope classifier used untrained, or with weights other than those it was trained on. */
export class ScopeClassifierError extends ElderError {}

export interface ScopeConfig {
  /** Block whose linear `site` reads the features. */
  block: number;
  site: string;
  /** Width of the embedding. */
  width: number;
  steps: number;
  lr: number;
  /** Facts per contrastive batch. */
  batchFacts: number;
  /** Softmax temperature of the contrastive loss (on cosines). */
  temperature: number;
  seed: number;
}

/** Phrasings of facts to train on: each group holds the prompts (token ids) of one fact. */
export type ScopeGroups = readonly (readonly (readonly number[])[])[];

/** How the calibrated threshold separates held-back phrasings. */
export interface ScopeCalibration {
  threshold: number;
  /** Share of held-back phrasings whose nearest same-fact phrasing reaches the threshold. */
  inScopeAccepted: number;
  /** Share of held-back phrasings whose nearest other-fact phrasing reaches it. */
  outOfScopeAccepted: number;
  trainGroups: number;
  heldBackGroups: number;
}

export class ScopeClassifier {
  private projection: Tensor | null = null;
  private fingerprint = '';
  private calibrated: ScopeCalibration | null = null;
  readonly featureWidth: number;
  readonly linear: string;

  constructor(
    readonly model: DecoderLM,
    readonly config: ScopeConfig,
  ) {
    if (!model.parameters.has(`${model.linearName(config.block, config.site)}.weight`))
      throw new UsageError(`serac.scopeBlock ${config.block} has no linear "${config.site}"`);
    const { inDim } = model.linearShape(config.block, config.site);
    this.featureWidth = 2 * inDim;
    this.linear = model.linearName(config.block, config.site);
    for (const key of ['width', 'steps', 'batchFacts'] as const) {
      if (!Number.isInteger(config[key]) || config[key] < 1)
        throw new UsageError(`serac.scope${key[0].toUpperCase()}${key.slice(1)} must be a positive integer, got ${config[key]}`);
    }
    if (!(config.temperature > 0)) throw new UsageError(`serac.scopeTemperature must be positive, got ${config.temperature}`);
  }

  get calibration(): ScopeCalibration {
    if (this.calibrated === null) throw new ScopeClassifierError('the scope classifier is untrained: train it before use');
    return this.calibrated;
  }

  /** Refuses use with weights other than those it was trained on, or before training. */
  assertCurrent(model: DecoderLM): void {
    if (this.projection === null) throw new ScopeClassifierError('the scope classifier is untrained: train it before use');
    if (weightsFingerprint(model) !== this.fingerprint)
      throw new ScopeClassifierError('the scope classifier was trained on other weights than this model has now: train it again');
  }

  /** Features of one prompt from the linear's input rows `from..to` (inclusive): [mean ; last]. */
  featuresOf(input: Float32Array, from: number, to: number, out: Float32Array, offset: number): void {
    const width = this.featureWidth / 2;
    const count = to - from + 1;
    for (let t = from; t <= to; t++) for (let c = 0; c < width; c++) out[offset + c] += input[t * width + c] / count;
    out.set(input.subarray(to * width, (to + 1) * width), offset + width);
  }

  /** Features of prompts (token ids), run through the blocks below the feature site in batches. */
  promptFeatures(prompts: readonly (readonly number[])[], batchSize = 32): Float32Array {
    const features = new Float32Array(prompts.length * this.featureWidth);
    const padId = padTokenId(this.model.config);
    for (let start = 0; start < prompts.length; start += batchSize) {
      const chunk = prompts.slice(start, start + batchSize);
      const steps = Math.max(...chunk.map((p) => p.length));
      const ids = new Int32Array(chunk.length * steps).fill(padId);
      chunk.forEach((p, b) => {
        ids.set(p, b * steps);
      });
      let input: Float32Array | null = null;
      const capture: LinearHook = (x, y) => {
        input = x.data.slice();
        return y;
      };
      const prefix = frozenBlocks(this.model, { ids, batch: chunk.length, steps }, this.config.block);
      noGrad(() => this.model.runBlocks(prefix, this.config.block, this.config.block + 1, { hooks: new Map([[this.linear, capture]]) }));
      chunk.forEach((p, b) => {
        this.featuresOf(input!, b * steps, b * steps + p.length - 1, features, (start + b) * this.featureWidth);
      });
    }
    return features;
  }

  /** Unit embeddings ([n, width], each row of norm 1) of feature rows. */
  embed(features: Float32Array): Float32Array {
    if (this.projection === null) throw new ScopeClassifierError('the scope classifier is untrained: train it before use');
    const projection = this.projection;
    return noGrad(() => this.normalised(matmul(Tensor.from(features, [features.length / this.featureWidth, this.featureWidth]), projection))).data;
  }

  private normalised(x: Tensor): Tensor {
    // rmsNorm without a gain is x·√width/‖x‖: scaled back to unit norm.
    const ones = Tensor.from(new Float32Array(this.config.width).fill(1 / Math.sqrt(this.config.width)), [this.config.width]);
    return rmsNorm(x, ones, 1e-12);
  }

  /**
   * Trains the projection on `groups` (at least 2 phrasings each) and
   * calibrates the threshold on a seeded fifth of them held back.
   */
  train(groups: ScopeGroups, onStep?: (step: number, loss: number) => void): ScopeCalibration {
    const usable = groups.filter((g) => g.length >= 2);
    if (usable.length < 10)
      throw new ScopeClassifierError(`the scope classifier needs at least 10 facts with 2 or more phrasings to train on, got ${usable.length}`);
    const random = new Random(this.config.seed);
    const order = random.shuffle(usable.map((_, i) => i));
    const heldBackCount = Math.max(2, Math.floor(usable.length / 5));
    const heldBack = order.slice(0, heldBackCount).map((i) => usable[i]);
    const train = order.slice(heldBackCount).map((i) => usable[i]);

    const featuresOfGroups = (set: ScopeGroups) => {
      const flat = set.flat();
      const features = this.promptFeatures(flat);
      const groupOf = new Int32Array(flat.length);
      let at = 0;
      set.forEach((g, i) => {
        groupOf.fill(i, at, at + g.length);
        at += g.length;
      });
      return { features, groupOf, starts: set.map((_, i) => groupOf.indexOf(i)), sizes: set.map((g) => g.length) };
    };
    const trainSet = featuresOfGroups(train);
    const width = this.featureWidth;
    const projection = Tensor.zeros([width, this.config.width], true);
    const initScale = 1 / Math.sqrt(width);
    for (let i = 0; i < projection.data.length; i++) projection.data[i] = random.normal() * initScale;

    const batch = Math.min(this.config.batchFacts, train.length);
    const anchors = new Float32Array(batch * width);
    const positives = new Float32Array(batch * width);
    const targets = Int32Array.from({ length: batch }, (_, i) => i);
    trainLoop(
      [projection],
      { lr: this.config.lr, iterations: this.config.steps },
      (step) => {
        const facts = random.sample(
          train.map((_, i) => i),
          batch,
        );
        facts.forEach((g, i) => {
          const [a, p] = random.sample(
            Array.from({ length: trainSet.sizes[g] }, (_, k) => k),
            2,
          );
          anchors.set(trainSet.features.subarray((trainSet.starts[g] + a) * width, (trainSet.starts[g] + a + 1) * width), i * width);
          positives.set(trainSet.features.subarray((trainSet.starts[g] + p) * width, (trainSet.starts[g] + p + 1) * width), i * width);
        });
        const za = this.normalised(matmul(Tensor.from(anchors, [batch, width]), projection));
        const zp = this.normalised(matmul(Tensor.from(positives, [batch, width]), projection));
        // Cosines of every anchor with every positive; each anchor's own fact is its class.
        const logits = scale(linear(za, zp, null, 'out_in'), 1 / this.config.temperature);
        const { loss } = crossEntropy(logits, targets);
        onStep?.(step, loss.item());
        return { loss, solved: () => false };
      },
      undefined,
      'the scope classifier',
    );
    projection.requiresGrad = false;
    this.projection = projection;
    this.fingerprint = weightsFingerprint(this.model);
    this.calibrated = this.calibrate(featuresOfGroups(heldBack), train.length, heldBack.length);
    return this.calibrated;
  }

  /**
   * The threshold that best separates, over held-back phrasings, the cosine
   * to the nearest phrasing of the same fact from the cosine to the nearest
   * phrasing of another fact (the balanced accuracy of the decision).
   */
  private calibrate(set: { features: Float32Array; groupOf: Int32Array }, trainGroups: number, heldBackGroups: number): ScopeCalibration {
    const z = this.embed(set.features);
    const n = set.groupOf.length;
    const m = this.config.width;
    const same: number[] = [];
    const other: number[] = [];
    for (let i = 0; i < n; i++) {
      let bestSame = -Infinity;
      let bestOther = -Infinity;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        let dot = 0;
        for (let c = 0; c < m; c++) dot += z[i * m + c] * z[j * m + c];
        if (set.groupOf[j] === set.groupOf[i]) bestSame = Math.max(bestSame, dot);
        else bestOther = Math.max(bestOther, dot);
      }
      same.push(bestSame);
      other.push(bestOther);
    }
    let best = { threshold: 1, score: -Infinity, inScope: 0, outOfScope: 0 };
    for (const threshold of [...same, ...other]) {
      const inScope = same.filter((s) => s >= threshold).length / n;
      const outOfScope = other.filter((s) => s >= threshold).length / n;
      const score = inScope - outOfScope;
      if (score > best.score) best = { threshold, score, inScope, outOfScope };
    }
    return { threshold: best.threshold, inScopeAccepted: best.inScope, outOfScopeAccepted: best.outOfScope, trainGroups, heldBackGroups };
  }
}
