/**
 * ELDER (Li et al., AAAI 2025) on a frozen decoder.
 *
 * Training a batch of edits: the blocks below the first edited block are run
 * once (they never change), which also yields the router query — the input of
 * the edited kind of linear one block below, at each sequence's last prompt
 * token. Each iteration then runs only the edited blocks and those above, with
 * the LM head on the target rows, and minimises
 *   L = L_model + λ · Σ_layers −Σ_k log s[preset]   (averaged over the batch)
 * with Adam on the routers and experts. Afterwards each edit's allocation code
 * (the experts its own router picks in every layer) is returned for storage.
 *
 * Inference routes the whole sequence once, from its last prompt token; an
 * input whose code is at Hamming distance ≥ ε from every stored code runs the
 * untouched base model.
 */

import { countArgmaxHits, countHits, lossOnRows, type TokenBatch } from '../../models/batch.js';
import type { DecoderLM, LinearHook } from '../../models/decoder.js';
import { type Generation, generate } from '../../models/generate.js';
import { BufferPool } from '../../tensor/buffers.js';
import { add, scale } from '../../tensor/ops/arithmetic.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';
import { UsageError } from '../../util/errors.js';
import { Random } from '../../util/random.js';
import { type PreparedBatch, padTokenId, prepareBatch } from '../common/batch.js';
import { trainLoop } from '../common/train-loop.js';
import type { TokenizedEdit } from '../edit.js';
import { type CodeRouting, type Editor, type EditorDiagnostics, frozenBlocks, type GateRadius, rowCapture, runBefore, type StepReport } from '../editor.js';
import { targetWithEnding } from '../ending.js';
import { AllocationTable } from './allocation.js';
import { loadBalanceLoss } from './balance-loss.js';
import { Codebook, codeToHex, codeWords, decodeCode, encodeCode } from './codebook.js';
import { type ElderConfig, editedBlocks, querySiteOf, subjectSiteOf } from './config.js';
import { SubjectGate } from './gate.js';
import { guidedLoss } from './guided-loss.js';
import { MixtureOfLora, type Routing } from './mixture.js';
import { ElderSession, promptTokenStates, type RoutingDecision, type SessionRouter } from './session.js';

export type { RoutingDecision };

/** The frozen part of a batch: hidden state entering the first edited block, and the router query. */
export interface FrozenPrefix {
  hidden: Tensor;
  query: Tensor;
  /** The first edited block's products that do not change while a batch trains (none when the batch changes per iteration, as with replay). */
  frozenOutputs?: ReadonlyMap<string, Tensor>;
}

export interface BatchLosses {
  total: Tensor;
  modelLoss: Tensor;
  /** Σ over layers of the configured routing loss (guided, load-balancing, or 0). */
  routingLoss: Tensor;
  routing: Routing;
  /** The argmax at each target row. */
  predictions: Int32Array;
  /** The target token of each target row. */
  targets: Int32Array;
}

export interface IterationReport {
  iteration: number;
  loss: number;
  modelLoss: number;
  routingLoss: number;
}

export interface BatchResult {
  iterations: number;
  loss: number;
  /** Per edit: the experts its router picks in each edited layer, and the packed code. */
  codes: Array<{ experts: number[][]; code: Uint32Array }>;
}

/**
 * What the editor keeps of a live edit, for replaying it in later batches:
 * its tokens and label, and the frozen part of its forward pass (the hidden
 * state entering the first edited block, and the router query). The frozen
 * part is a function of the base model and the tokens alone, so it is
 * recomputed, never stored, when a state is opened.
 */
export interface EditMemory {
  id: string;
  label: string;
  promptIds: number[];
  targetIds: number[];
  /** The base model's ending after its own answer, trained after the target when `config.trainEnding` is on. */
  endingIds: number[];
  /** Hidden states entering the first edited block, [promptIds + trained target, width]. */
  hidden: Float32Array;
  /** The router query (input of the query site at the last prompt token). */
  query: Float32Array;
  /** The subject key (input of the subject site at the subject's last token), when the edit named its subject. */
  subjectKey: Float32Array | null;
  /** The subject gate's query (input of the gate site at the last prompt token); the router query when the gate reads the same site or the gate is the code gate. */
  gateQuery: Float32Array;
}

export class ElderEditor implements Editor, SessionRouter {
  /** Codes of live edits. */
  readonly codebook: Codebook;
  /**
   * Codes of retracted edits. An input strictly nearer to one of these than to
   * any live code defers, so a retracted edit's inputs return to the base model
   * even when another live code lies within ε.
   */
  readonly retracted: Codebook;
  readonly allocations: AllocationTable;
  /** The edited blocks, in the order of each code's layers. */
  readonly blocks: number[];
  /** Live edits in the order they were applied (replayed when `config.replay` > 0). */
  readonly memory = new Map<string, EditMemory>();

  constructor(
    readonly model: DecoderLM,
    readonly config: ElderConfig,
    readonly mixture: MixtureOfLora = new MixtureOfLora(config, model),
    /** Training's activation buffers, reused by every batch (pass one in to share it with later editors of the same mixture). */
    readonly scratch: BufferPool = new BufferPool(),
  ) {
    this.blocks = editedBlocks(config);
    this.codebook = new Codebook(codeWords(this.blocks.length, config.experts));
    this.retracted = new Codebook(this.codebook.words);
    this.allocations = new AllocationTable(this.blocks.length, config.experts, config.topK, config.seed);
    this.queryRadius = config.queryRadius;
  }

  /** `elder` or `elder-paper`, or the ablation's name when the routing loss is not the guided one. */
  get method(): string {
    if (this.config.preset === 'paper') return this.config.routingLoss === 'guided' ? 'elder-paper' : `elder-paper-${this.config.routingLoss}`;
    return { guided: 'elder', none: 'elder-noguide', balance: 'elder-balance' }[this.config.routingLoss];
  }

  /**
   * Trains a batch and stores its codes at once (in memory). The durable
   * state ({@link ElderState}) trains with {@link trainBatch} instead and
   * stores codes only after the weights are on disk.
   */
  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const result = this.trainBatch(edits, onStep === undefined ? undefined : ({ iteration, loss }) => onStep({ iteration, loss }));
    edits.forEach((edit, b) => {
      this.codebook.add(edit.id, result.codes[b].code);
    });
    this.remember(edits);
    if (this.config.freshCodes) this.refreshCodes();
    return { iterations: result.iterations, loss: result.loss };
  }

  /**
   * Re-routes every live, remembered edit's query and stores the code the
   * routers give it now. Returns how many codes changed.
   */
  refreshCodes(): number {
    const live = this.liveMemories();
    const codes = this.routedCodes(live);
    let changed = 0;
    live.forEach((m, b) => {
      if (!sameCode(codes[b], this.codebook.get(m.id)!)) {
        this.codebook.set(m.id, codes[b]);
        changed++;
      }
    });
    return changed;
  }

  /** Remembered edits whose code is live (not retracted). */
  private liveMemories(): EditMemory[] {
    return [...this.memory.values()].filter((m) => this.codebook.has(m.id));
  }

  /** The codes the routers give remembered edits' queries now. */
  private routedCodes(memories: readonly EditMemory[]): Uint32Array[] {
    const codes: Uint32Array[] = [];
    for (let start = 0; start < memories.length; start += 256) {
      const chunk = memories.slice(start, start + 256);
      const inDim = chunk[0].query.length;
      const queries = Tensor.zeros([chunk.length, inDim]);
      chunk.forEach((m, b) => {
        queries.data.set(m.query, b * inDim);
      });
      const routing = noGrad(() => this.mixture.route(queries));
      chunk.forEach((_, b) => {
        codes.push(this.codeOf(routing, b).code);
      });
    }
    return codes;
  }

  /**
   * Keeps applied edits (and their frozen forward pass) for replay. Each edit's
   * pass runs alone, never padded into a batch: sgemm may order a sum
   * differently with the number of rows (OpenBLAS does on AVX2 CPUs), and a
   * state reopened from its journal must recompute exactly what it remembered.
   */
  remember(edits: readonly Pick<TokenizedEdit, 'id' | 'label' | 'promptIds' | 'targetIds' | 'endingIds' | 'subjectEnd'>[]): void {
    for (const edit of edits) {
      const prepared = prepareBatch([this.trained(edit)], this.padId);
      // Without a subject the capture points at the last prompt token; its key is dropped below.
      const subjectRows = Int32Array.of(edit.subjectEnd ?? edit.promptIds.length - 1);
      const pass = this.frozenPass(prepared.tokens, prepared.queryRows, { subjectRows });
      this.memory.set(edit.id, {
        id: edit.id,
        label: edit.label,
        promptIds: [...edit.promptIds],
        targetIds: [...edit.targetIds],
        endingIds: [...(edit.endingIds ?? [])],
        hidden: pass.hidden.data.slice(),
        query: pass.query.data.slice(),
        subjectKey: edit.subjectEnd === undefined ? null : pass.subjectKeys!.data.slice(),
        gateQuery: pass.gateQuery.data.slice(),
      });
    }
    this.builtGate = null;
  }

  /** Forgets a retracted edit: it is no longer replayed. */
  forget(id: string): void {
    this.memory.delete(id);
    this.builtGate = null;
  }

  session(queryRows: Int32Array): ElderSession {
    return new ElderSession(this, queryRows);
  }

  /** Routers and experts (the bit-packed codes add L·N bits per edit besides). */
  addedParameters(): number {
    return this.mixture.parameterCount();
  }

  /** The code space, for the benchmark's plots. */
  get codeRouting(): CodeRouting {
    return {
      codesOf: (prompts) => this.codesOf(prompts),
      codeDistancesOf: (prompts) => this.decisionsOf(prompts).map((d) => d.distance),
      epsilon: this.config.epsilon,
      codeText: codeToHex,
    };
  }

  /** The allocation codes of prompts as the routers see them now (for plots of the code space). */
  codesOf(prompts: readonly (readonly number[])[]): Uint32Array[] {
    const routing = noGrad(() => this.mixture.route(this.queriesOf(prompts)));
    return prompts.map((_, b) => this.codeOf(routing, b).code);
  }

  /** Router queries [n, in] of prompts (the frozen pass only). */
  queriesOf(prompts: readonly (readonly number[])[]): Tensor {
    const prepared = prepareBatch(
      prompts.map((ids) => ({ promptIds: [...ids], targetIds: [] })),
      this.padId,
    );
    return this.frozenPrefix(prepared.tokens, prepared.queryRows).query;
  }

  /** How prompts would be routed (the frozen pass only, in chunks of 32). */
  decisionsOf(prompts: readonly (readonly number[])[]): RoutingDecision[] {
    const decisions: RoutingDecision[] = [];
    for (let start = 0; start < prompts.length; start += 32) {
      const chunk = prompts.slice(start, start + 32);
      const prepared = prepareBatch(
        chunk.map((ids) => ({ promptIds: [...ids], targetIds: [] })),
        this.padId,
      );
      const pass = this.frozenPass(prepared.tokens, prepared.queryRows, { tokenStates: true });
      decisions.push(...this.decide(pass.query, pass.tokenStates, pass.gateQuery).decisions);
    }
    return decisions;
  }

  /**
   * Routing stability after a batch: how many live edits' stored codes still
   * match what the routers give their queries now (a mismatch moves an edit
   * away from its own code, towards deferral or another edit's experts), and
   * how unrelated prompts are routed.
   */
  diagnose(unrelatedPrompts: readonly (readonly number[])[]): EditorDiagnostics {
    const live = this.liveMemories();
    const codes = this.routedCodes(live);
    const stable = live.filter((m, b) => sameCode(codes[b], this.codebook.get(m.id)!)).length;
    const decisions = this.decisionsOf(unrelatedPrompts);
    return {
      codesStable: live.length === 0 ? NaN : stable / live.length,
      unrelatedDeferred: decisions.length === 0 ? NaN : decisions.filter((d) => d.deferred).length / decisions.length,
      unrelatedDistances: decisions.map((d) => d.distance),
    };
  }

  get padId(): number {
    return padTokenId(this.model.config);
  }

  /** Module name of the linear whose input is the router query. */
  get querySite(): string {
    return querySiteOf(this.model, this.config);
  }

  /** Module name of the linear whose input holds the subject keys. */
  get subjectSite(): string {
    return subjectSiteOf(this.model, this.config);
  }

  /** Module name of the linear whose input is the subject gate's query. */
  get gateSite(): string {
    return this.model.linearName(this.config.gateBlock, this.config.site);
  }

  /**
   * Module name of the linear where an inference pass decides its routing:
   * the later of the query and gate sites (with the subject gate, the gate
   * site may be the first edited linear itself, deciding before it applies).
   */
  get decisionSite(): string {
    return this.config.gate === 'subject' && this.config.gateBlock >= this.config.firstBlock ? this.gateSite : this.querySite;
  }

  /**
   * The frozen pass of a batch with what deferral reads: the router query,
   * the gate query (running the first edited block, without experts, when the
   * gate reads it), subject keys at `subjectRows`, and with `tokenStates`
   * each sequence's prompt-token states at the subject site.
   */
  frozenPass(
    tokens: TokenBatch,
    queryRows: Int32Array,
    want: { subjectRows?: Int32Array; tokenStates?: boolean },
  ): FrozenPrefix & { gateQuery: Tensor; subjectKeys?: Tensor; tokenStates?: Float32Array[] } {
    const { firstBlock, gateBlock } = this.config;
    const hooks = new Map<string, LinearHook>();
    let query: Tensor | undefined;
    let gateQuery: Tensor | undefined;
    let subjectKeys: Tensor | undefined;
    let tokenStates: Float32Array[] | undefined;
    runBefore(hooks, this.querySite, (input) => (query = selectRows(input, queryRows)));
    if (gateBlock < firstBlock) runBefore(hooks, this.gateSite, (input) => (gateQuery = selectRows(input, queryRows)));
    runBefore(hooks, this.subjectSite, (input) => {
      if (want.subjectRows !== undefined) subjectKeys = selectRows(input, want.subjectRows);
      if (want.tokenStates === true) tokenStates = promptTokenStates(input, queryRows);
    });
    const hidden = frozenBlocks(this.model, tokens, firstBlock, hooks);
    // The code gate reads no gate query: the router's stands in, without running the first edited block.
    if (this.config.gate !== 'subject') gateQuery ??= query;
    if (gateQuery === undefined) {
      const gateHooks = new Map<string, LinearHook>();
      runBefore(gateHooks, this.gateSite, (input) => (gateQuery = selectRows(input, queryRows)));
      noGrad(() => this.model.runBlocks(hidden, firstBlock, firstBlock + 1, { hooks: gateHooks }));
    }
    return { hidden, query: query!, gateQuery: gateQuery!, subjectKeys, tokenStates };
  }

  /** Runs the frozen blocks once and captures the router query at `queryRows` (what training needs). */
  frozenPrefix(tokens: TokenBatch, queryRows: Int32Array): FrozenPrefix {
    const query = rowCapture(this.querySite, queryRows);
    const hidden = frozenBlocks(this.model, tokens, this.config.firstBlock, query.hooks);
    return { hidden, query: query.captured.input! };
  }

  /** Pre-assigned experts of a batch, per edited layer as Int32Array [B·k]. */
  presets(labels: readonly string[]): Int32Array[] {
    const k = this.config.topK;
    const allocations = labels.map((label) => this.allocations.assign(label));
    return this.blocks.map((_, i) => {
      const preset = new Int32Array(labels.length * k);
      allocations.forEach((allocation, b) => {
        preset.set(allocation[i], b * k);
      });
      return preset;
    });
  }

  /** One forward pass of the trainable part: model loss on targets, guided loss, total. */
  batchLosses(prepared: PreparedBatch, prefix: FrozenPrefix, presets: Int32Array[]): BatchLosses {
    const { model, config } = this;
    const routed = this.mixture.route(prefix.query);
    // Trained through the pre-assigned experts, gated by the router's scores for them.
    const routing = config.trainRouting === 'preset' ? { ...routed, selection: presets } : routed;
    const atTargets = model.hiddenAtRows(prefix.hidden, config.firstBlock, prepared.targets.rows, {
      hooks: this.mixture.hooks(model, routing),
      frozenOutputs: prefix.frozenOutputs,
    });
    const { loss, predictions } = lossOnRows(model, atTargets, prepared.targets.targets);
    const targets = prepared.targets.targets;
    if (config.routingLoss === 'none') return { total: loss, modelLoss: loss, routingLoss: Tensor.zeros([1]), routing, predictions, targets };
    const layerLoss = (i: number) =>
      config.routingLoss === 'guided'
        ? guidedLoss(routing.logits[i], presets[i], config.topK)
        : loadBalanceLoss(routing.scores[i], routing.selection[i], config.topK);
    let routingLoss = layerLoss(0);
    for (let i = 1; i < routing.logits.length; i++) routingLoss = add(routingLoss, layerLoss(i));
    return { total: add(loss, scale(routingLoss, config.lambda)), modelLoss: loss, routingLoss, routing, predictions, targets };
  }

  /**
   * Trains the mixture on one batch of edits (a fresh Adam per batch) and
   * returns each edit's code. The codebook is not touched: the caller stores
   * the codes once the new weights are durable.
   */
  trainBatch(edits: readonly TokenizedEdit[], onIteration?: (report: IterationReport) => void): BatchResult {
    const prepared = prepareBatch(
      edits.map((edit) => this.trained(edit)),
      this.padId,
    );
    const prefix = this.frozenPrefix(prepared.tokens, prepared.queryRows);
    const presets = this.presets(edits.map((e) => e.label));
    const earlier = [...this.memory.values()].filter((m) => !edits.some((e) => e.id === m.id));
    const replayCount = Math.min(this.config.replay, earlier.length);
    // Without replay every iteration runs the same batch: the first edited block's products
    // up to the adapted linear are computed once (with replay the batch changes each time).
    const sites = new Set(this.blocks.map((block) => this.model.linearName(block, this.config.site)));
    const frozenPrefix =
      replayCount === 0 ? { ...prefix, frozenOutputs: this.model.frozenLinearOutputs(prefix.hidden, this.config.firstBlock, sites) } : prefix;
    // Seeded by the state's size, so a batch replays the same earlier edits whenever it is trained.
    const rng = new Random((Math.imul(this.config.seed + 1, 0x9e3779b1) ^ this.memory.size) >>> 0);
    const { iterations, loss } = trainLoop(
      this.mixture.parameters(),
      { ...this.config, pool: this.scratch },
      () => {
        const replayed = replayCount === 0 ? [] : rng.sample(earlier, replayCount);
        const losses = replayed.length === 0 ? this.batchLosses(prepared, frozenPrefix, presets) : this.replayLosses(edits, prefix, replayed);
        return {
          loss: losses.total,
          solved: () => countHits(losses.predictions, losses.targets) === losses.targets.length,
          parts: { modelLoss: losses.modelLoss.item(), routingLoss: losses.routingLoss.item() },
        };
      },
      onIteration === undefined
        ? undefined
        : ({ iteration, loss, parts }) => onIteration({ iteration, loss, modelLoss: parts!.modelLoss, routingLoss: parts!.routingLoss }),
      'ELDER',
    );
    const routing = noGrad(() => this.mixture.route(prefix.query));
    return { iterations, loss, codes: edits.map((_, b) => this.codeOf(routing, b)) };
  }

  /**
   * The losses of a batch trained next to replayed earlier edits: one padded
   * batch whose frozen part is the batch's own prefix and the replayed edits'
   * remembered ones. Early stopping looks at the whole (old edits must hold too).
   */
  private replayLosses(edits: readonly TokenizedEdit[], prefix: FrozenPrefix, replayed: readonly EditMemory[]): BatchLosses {
    const all = [...edits, ...replayed];
    const prepared = prepareBatch(
      all.map((edit) => this.trained(edit)),
      this.padId,
    );
    const width = this.model.config.width;
    const inDim = prefix.query.lastDim;
    const steps = prepared.tokens.steps;
    const ownSteps = prefix.hidden.shape[1];
    const hidden = Tensor.zeros([all.length, steps, width]);
    const query = Tensor.zeros([all.length, inDim]);
    edits.forEach((_, b) => {
      hidden.data.set(prefix.hidden.data.subarray(b * ownSteps * width, (b + 1) * ownSteps * width), b * steps * width);
      query.data.set(prefix.query.data.subarray(b * inDim, (b + 1) * inDim), b * inDim);
    });
    replayed.forEach((memory, r) => {
      const b = edits.length + r;
      hidden.data.set(memory.hidden, b * steps * width);
      query.data.set(memory.query, b * inDim);
    });
    return this.batchLosses(prepared, { hidden, query }, this.presets(all.map((e) => e.label)));
  }

  /** An edit as training fits it: the target, then (with `trainEnding`) the base model's ending after its own answer. */
  private trained<E extends Pick<TokenizedEdit, 'promptIds' | 'targetIds' | 'endingIds'>>(edit: E): { promptIds: number[]; targetIds: number[] } {
    return { promptIds: edit.promptIds, targetIds: this.config.trainEnding ? targetWithEnding(edit) : edit.targetIds };
  }

  /** The experts sequence `b` was routed to in each edited layer, and its packed code. */
  private codeOf(routing: Routing, b: number): { experts: number[][]; code: Uint32Array } {
    const k = this.config.topK;
    const experts = routing.selection.map((sel) => Array.from(sel.subarray(b * k, (b + 1) * k)));
    return { experts, code: encodeCode(experts, this.config.experts) };
  }

  /**
   * Routes router queries [B, in] (no gradient) and decides deferral per
   * sequence against the codebook and, with the subject gate, against the
   * live edits (`gateQueries` [B, in] at the gate site; `tokenStates[b]`: the
   * subject site's input at every prompt token of sequence b, [tokens · in]).
   */
  decide(query: Tensor, tokenStates?: readonly Float32Array[], gateQueries?: Tensor): { routing: Routing; decisions: RoutingDecision[] } {
    const routing = noGrad(() => this.mixture.route(query));
    const decisions = Array.from({ length: query.shape[0] }, (_, b): RoutingDecision => {
      const { experts, code } = this.codeOf(routing, b);
      const nearest = this.codebook.nearest(code);
      const codeDeferred = nearest.distance >= this.config.epsilon || this.retracted.nearest(code).distance < nearest.distance;
      if (this.config.gate !== 'subject') return { deferred: codeDeferred, distance: nearest.distance, nearestId: nearest.id, experts };
      if (tokenStates === undefined || gateQueries === undefined)
        throw new Error('the subject gate needs the gate queries and the subject site states of every prompt token');
      const width = gateQueries.lastDim;
      const matched = this.subjectGate().match(gateQueries.data.subarray(b * width, (b + 1) * width), tokenStates[b]);
      const deferred = codeDeferred || matched === null;
      const used = !deferred && this.config.matchedExperts ? this.routeAsEdit(routing, b, matched!) : experts;
      return { deferred, matched, distance: nearest.distance, nearestId: nearest.id, experts: used };
    });
    return { routing, decisions };
  }

  /** Sets sequence b's selection to the experts of live edit `id` in every edited layer (largest score first); returns them. */
  private routeAsEdit(routing: Routing, b: number, id: string): number[][] {
    const k = this.config.topK;
    const chosen = decodeCode(this.codebook.get(id)!, this.blocks.length, this.config.experts);
    return chosen.map((experts, i) => {
      const scores = routing.scores[i].data.subarray(b * this.config.experts, (b + 1) * this.config.experts);
      const ordered = [...experts].sort((x, y) => scores[y] - scores[x]);
      routing.selection[i].set(ordered, b * k);
      return ordered;
    });
  }

  /** The subject gate over the live remembered edits (rebuilt when memory, codebook or radius change). */
  private builtGate: SubjectGate | null = null;

  /** The subject gate's query radius in force; starts at the configuration's, and {@link gateRadius} moves it. */
  private queryRadius: number;

  private subjectGate(): SubjectGate {
    if (this.builtGate === null || this.builtGate.size !== this.codebook.size)
      this.builtGate = SubjectGate.build(this.liveMemories(), { ...this.config, queryRadius: this.queryRadius });
    return this.builtGate;
  }

  /** With the subject gate: its query radius, which can be moved after training (benchmarks measure the trade-off it makes). */
  get gateRadius(): GateRadius | undefined {
    if (this.config.gate !== 'subject') return undefined;
    return {
      value: this.queryRadius,
      set: (radius: number) => {
        if (!Number.isFinite(radius) || radius <= 0) throw new UsageError(`ELDER queryRadius must be a finite number > 0, got ${radius}`);
        this.queryRadius = radius;
        this.builtGate = null;
      },
    };
  }

  /** The edited model's greedy (or sampled) continuation of a prompt, with its routing decision. */
  answer(
    promptIds: readonly number[],
    maxTokens: number,
    options: { temperature?: number; topP?: number; seed?: number } = {},
  ): Generation & { decision: RoutingDecision } {
    const session = this.session(Int32Array.from([promptIds.length - 1]));
    const generation = generate(this.model, promptIds, { maxTokens, session, ...options });
    return { ...generation, decision: session.decisions[0] };
  }

  /** Teacher-forced check: is every target token the argmax after the prompt (the paper's reliability)? */
  predictsTarget(promptIds: readonly number[], targetIds: readonly number[]): { correct: boolean; tokenAccuracy: number; decision: RoutingDecision } {
    const prepared = prepareBatch([{ promptIds: [...promptIds], targetIds: [...targetIds] }], this.padId);
    const session = this.session(prepared.queryRows);
    const logits = noGrad(() => {
      const hidden = this.model.hiddenStates(prepared.tokens.ids, 1, prepared.tokens.steps, { hooks: session.hooks('prompt') });
      return this.model.lmHead(selectRows(hidden, prepared.targets.rows));
    });
    const hits = countArgmaxHits(logits, prepared.targets.targets);
    return { correct: hits === targetIds.length, tokenAccuracy: hits / targetIds.length, decision: session.decisions[0] };
  }
}

function sameCode(a: Uint32Array, b: Uint32Array): boolean {
  return a.every((word, w) => word === b[w]);
}
