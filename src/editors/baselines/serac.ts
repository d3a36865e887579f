/**
 * SERAC (Mitchell et al., ICML 2022, "Memory-Based Model Editing at Scale"):
 * edits go into an explicit memory, never into the model. A scope classifier
 * decides whether an input falls under a stored edit; if it does, a
 * counterfactual model answers it given that edit; every other input runs
 * the untouched base model.
 *
 * What is implemented, and where it departs from the paper:
 * - The memory holds every edit (prompt, target, label), with its scope
 *   embedding.
 * - The scope classifier ({@link ScopeClassifier}, serac-scope.ts) is the
 *   paper's embedding variant with the base model as the encoder: the mean
 *   and last-token input of one linear (`scopeBlock`, the edit site) through
 *   a learned projection, cosine to the nearest stored edit, against a
 *   calibrated threshold. The paper fine-tunes a separate DistilBERT on
 *   in-scope and out-of-scope pairs. Here the projection is trained
 *   (InfoNCE, `scopeSteps` steps of `scopeBatchFacts` facts) on phrasings of
 *   facts from records no evaluated edit comes from (`elder bench-edit`
 *   passes the benchmark's records after the edited ones); the threshold is
 *   calibrated on a fifth of them held back. It never sees an evaluated
 *   prompt.
 * - The counterfactual model is the base model with a value per edit label
 *   replacing the edit site's output from the last prompt token on (GRACE's
 *   value, fitted by Adam on all of the label's stored prompts, early
 *   stopped once the target is the argmax). The paper trains a separate
 *   seq2seq model that reads the edit as text; the issue allows the base
 *   model with the edit in context, but elder-facts never saw a fact
 *   stated before a question in pretraining and does not copy one, and
 *   elder's inference sessions change a model through its linears, not its
 *   input tokens.
 * - The scope classifier is trained when the editor is built; it refuses to
 *   embed untrained, and an edit is refused once the model's weights differ
 *   from those it was trained on (fingerprint).
 */
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { replaceRows } from '../../tensor/ops/select.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { UsageError } from '../../util/errors.js';
import { padTokenId, prepareBatch } from '../common/batch.js';
import type { EditorResources } from '../common/resources.js';
import { replaceFromValues, rowsFromQueries } from '../common/row-values.js';
import { InferenceSession } from '../common/session.js';
import { checkBlock, defaultSite, siteShape } from '../common/sites.js';
import { eachEditAlone } from '../common/train-loop.js';
import type { TokenizedEdit } from '../edit.js';
import { type Editor, frozenBlocks, rowCapture, runBefore, type StepReport, trainThroughHooks } from '../editor.js';
import { ScopeClassifier, type ScopeConfig } from './serac-scope.js';

export interface SeracConfig {
  /** The linear whose output a counterfactual value replaces, and whose input the scope classifier reads. */
  site: string;
  /** Block of the counterfactual values. */
  block: number;
  /** Adam lr and most iterations of a value fit (early stopped). */
  lr: number;
  iterations: number;
  /** Block whose `site` input gives the scope features (at most `block`: the decision precedes the answer). */
  scopeBlock: number;
  scopeWidth: number;
  scopeSteps: number;
  scopeLr: number;
  scopeBatchFacts: number;
  scopeTemperature: number;
  seed: number;
}

export function defaultSeracConfig(model: DecoderLM, overrides: Partial<SeracConfig> = {}): SeracConfig {
  const { site, lastBlock } = defaultSite(model);
  return {
    site,
    block: lastBlock,
    lr: 1.0,
    iterations: 50,
    scopeBlock: Math.min(lastBlock, Math.floor(model.config.layers / 2)),
    scopeWidth: 128,
    scopeSteps: 400,
    scopeLr: 3e-3,
    scopeBatchFacts: 64,
    scopeTemperature: 0.05,
    seed: 0,
    ...overrides,
  };
}

/** The scope classifier's settings within SERAC's. */
export function scopeConfigOf(config: SeracConfig): ScopeConfig {
  return {
    block: config.scopeBlock,
    site: config.site,
    width: config.scopeWidth,
    steps: config.scopeSteps,
    lr: config.scopeLr,
    batchFacts: config.scopeBatchFacts,
    temperature: config.scopeTemperature,
    seed: config.seed,
  };
}

/** Every edit stored under one label, and the counterfactual value that answers them. */
interface LabelEntry {
  label: string;
  target: string;
  prompts: TokenizedEdit[];
  value: Tensor;
}

export class SeracEditor implements Editor {
  readonly method = 'serac';
  readonly entries: LabelEntry[] = [];
  readonly classifier: ScopeClassifier;
  private readonly byLabel = new Map<string, number>();
  /** Unit scope embeddings of every stored prompt, [stored, scopeWidth], and the entry each belongs to. */
  private embeddings = new Float32Array(0);
  private entryOfStored: number[] = [];
  private readonly name: string;
  private readonly outDim: number;

  constructor(
    readonly model: DecoderLM,
    readonly config: SeracConfig,
    resources: EditorResources,
  ) {
    checkBlock(model.config, config.block, 'serac.block');
    checkBlock(model.config, config.scopeBlock, 'serac.scopeBlock');
    if (config.scopeBlock > config.block)
      throw new UsageError(`serac.scopeBlock (${config.scopeBlock}) must not exceed serac.block (${config.block}): the scope decision must precede the answer`);
    if (!(config.lr > 0)) throw new UsageError(`serac.lr must be positive, got ${config.lr}`);
    if (!Number.isInteger(config.iterations) || config.iterations < 1)
      throw new UsageError(`serac.iterations must be a positive integer, got ${config.iterations}`);
    this.outDim = siteShape(model, config.site, config.block).outDim;
    this.name = model.linearName(config.block, config.site);
    const phrasings = resources.trainingPhrasings;
    if (phrasings === undefined) throw new UsageError('serac needs phrasings of facts outside the edited ones to train its scope classifier on');
    this.classifier = new ScopeClassifier(model, scopeConfigOf(config));
    resources.note?.(`serac: training the scope classifier on ${phrasings.length} facts (${phrasings.flat().length} phrasings, ${config.scopeSteps} steps)`);
    const calibration = this.classifier.train(phrasings);
    resources.note?.(
      `serac: scope threshold ${calibration.threshold.toFixed(3)}: held-back phrasings in scope ${(100 * calibration.inScopeAccepted).toFixed(1)}%, other facts let in ${(100 * calibration.outOfScopeAccepted).toFixed(1)}%`,
    );
  }

  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    this.classifier.assertCurrent(this.model);
    return eachEditAlone(edits, (edit) => this.applyOne(edit, onStep));
  }

  private applyOne(edit: TokenizedEdit, onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const embedding = this.classifier.embed(this.classifier.promptFeatures([edit.promptIds]));
    const known = this.byLabel.get(edit.label);
    if (known !== undefined && this.entries[known].target !== edit.target)
      throw new UsageError(
        `edit "${edit.id}" has label "${edit.label}" with target "${edit.target}", but the label's target is "${this.entries[known].target}"`,
      );
    const prompts = [...(known === undefined ? [] : this.entries[known].prompts), edit];
    const prepared = prepareBatch(prompts, padTokenId(this.model.config));
    const prefix = frozenBlocks(this.model, prepared.tokens, this.config.block);
    const index = known ?? this.addEntry(edit, this.warmValue(prefix, prepared.queryRows));
    const entry = this.entries[index];
    entry.prompts.push(edit);
    const rows = rowsFromQueries(prepared.queryRows, prepared.tokens.steps);
    const zeros = new Int32Array(rows.length);
    entry.value.requiresGrad = true;
    const hooks = () => new Map<string, LinearHook>([[this.name, (_input, out) => replaceRows(out, rows, entry.value, zeros)]]);
    const result = trainThroughHooks(this.model, prepared, prefix, this.config.block, [entry.value], hooks, { ...this.config, earlyStop: true }, onStep);
    entry.value.requiresGrad = false;
    this.store(embedding, index);
    return result;
  }

  /** A new label's entry, its value starting from `warm`. */
  private addEntry(edit: TokenizedEdit, warm: Float32Array): number {
    this.entries.push({ label: edit.label, target: edit.target, prompts: [], value: Tensor.from(warm, [1, this.outDim]) });
    this.byLabel.set(edit.label, this.entries.length - 1);
    return this.entries.length - 1;
  }

  /** The site's own output at a new label's one prompt (its last prompt token), from the blocks below already run: where its value starts (GRACE's warm start). */
  private warmValue(prefix: Tensor, queryRows: Int32Array): Float32Array {
    const { hooks, captured } = rowCapture(this.name, queryRows);
    noGrad(() => this.model.runBlocks(prefix, this.config.block, this.config.block + 1, { hooks }));
    return captured.output!.data;
  }

  private store(embedding: Float32Array, entry: number): void {
    const grown = new Float32Array(this.embeddings.length + embedding.length);
    grown.set(this.embeddings);
    grown.set(embedding, this.embeddings.length);
    this.embeddings = grown;
    this.entryOfStored.push(entry);
  }

  /** Per input (feature rows), the entry whose stored prompt is nearest in scope and within the threshold, or −1. */
  scopeOf(features: Float32Array): number[] {
    const width = this.classifier.config.width;
    const stored = this.entryOfStored.length;
    if (stored === 0) return Array.from({ length: features.length / this.classifier.featureWidth }, () => -1);
    const z = this.classifier.embed(features);
    const threshold = this.classifier.calibration.threshold;
    const chosen: number[] = [];
    for (let b = 0; b < z.length / width; b++) {
      let best = -Infinity;
      let bestEntry = -1;
      for (let s = 0; s < stored; s++) {
        let dot = 0;
        for (let c = 0; c < width; c++) dot += z[b * width + c] * this.embeddings[s * width + c];
        if (dot > best) {
          best = dot;
          bestEntry = this.entryOfStored[s];
        }
      }
      chosen.push(best >= threshold ? bestEntry : -1);
    }
    return chosen;
  }

  /** `output` with in-scope sequences' rows from `from(b)` on answered by their entry's value. */
  answer(output: Tensor, chosen: readonly number[], from: (b: number) => number): Tensor {
    return replaceFromValues(
      output,
      this.entries.map((entry) => entry.value),
      chosen,
      from,
    );
  }

  /** The linear whose output the counterfactual values replace. */
  get site(): string {
    return this.name;
  }

  session(queryRows: Int32Array): SeracSession {
    return new SeracSession(this, queryRows);
  }

  addedParameters(): number {
    const classifier = this.classifier.featureWidth * this.classifier.config.width;
    return classifier + this.embeddings.length + this.entries.length * this.outDim;
  }
}

/**
 * SERAC on one batch of inputs: the prompt pass classifies each sequence at
 * the scope linear (its entry, or −1: the base model) and answers in-scope
 * ones with their entry's value from the last prompt token on; decoding
 * steps keep the decision.
 */
export class SeracSession extends InferenceSession<number[]> {
  constructor(
    private readonly editor: SeracEditor,
    queryRows: Int32Array,
  ) {
    super(queryRows);
  }

  protected promptHooks(decide: (chosen: number[]) => void): Map<string, LinearHook> {
    const { editor, queryRows } = this;
    let chosen: number[] | null = null;
    const hooks = new Map<string, LinearHook>([
      [
        editor.site,
        (_input: Tensor, output: Tensor) => {
          const steps = output.shape[1];
          return editor.answer(output, chosen!, (b) => queryRows[b] - b * steps);
        },
      ],
    ]);
    runBefore(hooks, editor.classifier.linear, (input) => {
      const steps = input.shape[1];
      const width = editor.classifier.featureWidth;
      const features = new Float32Array(queryRows.length * width);
      queryRows.forEach((row, b) => {
        editor.classifier.featuresOf(input.data, b * steps, row, features, b * width);
      });
      chosen = editor.scopeOf(features);
      decide(chosen);
    });
    return hooks;
  }

  protected stepHooks(chosen: number[]): Map<string, LinearHook> {
    return new Map([[this.editor.site, (_input: Tensor, output: Tensor) => this.editor.answer(output, chosen, () => 0)]]);
  }
}
