/**
 * ELDER (Li et al., AAAI 2025) on a frozen decoder, as the benchmark and the
 * state folder use it: the core (mixture and routers), a gate, and what the
 * editor holds, each label's allocation, the codebook of live codes, the
 * retracted codes and the remembered edits. All of it is private: it changes
 * only through {@link ElderEditor.commit} and {@link ElderEditor.retract},
 * and leaves or enters as an {@link ElderSnapshot}.
 */
import { countArgmaxHits } from '../../models/batch.js';
import type { DecoderLM } from '../../models/decoder.js';
import { type Generation, generate } from '../../models/generate.js';
import { BufferPool } from '../../tensor/buffers.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad } from '../../tensor/tensor.js';
import { prepareBatch } from '../common/batch.js';
import type { TokenizedEdit } from '../edit.js';
import type { CodeRouting, Editor, EditorDiagnostics, GateRadius, StepReport } from '../editor.js';
import { type Allocation, AllocationTable } from './allocation.js';
import { Codebook, codeToHex } from './codebook.js';
import { type ElderConfig, methodOf } from './config.js';
import { ElderCore } from './core.js';
import { type EditMemory, memoryOf, promptPass, type RememberedEdit } from './frozen.js';
import type { Gate, GateView, RoutingDecision } from './gates/gate.js';
import { gateKindOf } from './gates/index.js';
import type { MixtureOfLora } from './mixture.js';
import { ReplayMemory } from './rehearsal.js';
import { decideBatch, ElderSession } from './session.js';
import type { ElderSnapshot, StoredTensor } from './snapshot.js';
import { type BatchResult, type IterationReport, trainBatch } from './training.js';

export type { RoutingDecision };

export interface EditorOptions {
  /** The mixture to train (default: a fresh one); a long-lived thread passes one in to reuse its buffers. */
  mixture?: MixtureOfLora;
  /** Training's activation buffers (pass one in to share it with later editors of the same mixture). */
  scratch?: BufferPool;
  /** Frozen passes computed before, by edit id (the service's training thread keeps them across batches). */
  frozenCache?: Map<string, EditMemory>;
}

export class ElderEditor implements Editor {
  private readonly core: ElderCore;
  private readonly allocations: AllocationTable;
  private readonly codebook: Codebook;
  private readonly retracted: Codebook;
  private readonly memory = new ReplayMemory();
  private readonly gate: Gate;
  private readonly scratch: BufferPool;
  private readonly frozenCache?: Map<string, EditMemory>;

  constructor(
    readonly model: DecoderLM,
    readonly config: ElderConfig,
    options: EditorOptions = {},
  ) {
    this.core = new ElderCore(model, config.core, options.mixture);
    this.allocations = new AllocationTable(this.core.blocks.length, config.core.experts, config.core.topK, config.core.seed);
    this.codebook = new Codebook(this.core.codeWords);
    this.retracted = new Codebook(this.core.codeWords);
    this.scratch = options.scratch ?? new BufferPool();
    this.frozenCache = options.frozenCache;
    const view: GateView = { codebook: this.codebook, retracted: this.retracted, liveMemories: () => this.liveMemories() };
    this.gate = gateKindOf(config.gate).create(config.gate, this.core, view);
  }

  /** An editor holding `snapshot`; with `refresh` (and fresh codes on) the codes are re-routed as after a batch. */
  static restore(model: DecoderLM, config: ElderConfig, snapshot: ElderSnapshot, options: EditorOptions & { refresh?: boolean } = {}): ElderEditor {
    const editor = new ElderEditor(model, config, options);
    editor.loadWeights(snapshot.weights, 'snapshot');
    for (const [label, allocation] of snapshot.allocations) editor.allocations.record(label, allocation);
    for (const [id, code] of snapshot.retracted) editor.retracted.add(id, code);
    editor.admit(snapshot.codes, snapshot.memory, options.refresh === true);
    return editor;
  }

  /** Everything the editor holds, as one plain value (copies). */
  snapshot(): ElderSnapshot {
    const weights = new Map([...this.mixture.namedParameters()].map(([name, t]) => [name, { data: t.data.slice(), shape: [...t.shape] }]));
    const remembered = this.memory.all().map(({ id, label, promptIds, targetIds, endingIds, subjectEnd, subjectStart, subjectIds }) => ({
      id,
      label,
      promptIds,
      targetIds,
      endingIds,
      ...(subjectEnd === undefined ? {} : { subjectEnd }),
      ...(subjectStart === undefined ? {} : { subjectStart }),
      ...(subjectIds === undefined ? {} : { subjectIds }),
    }));
    return {
      weights,
      codes: this.codebook.entries(),
      retracted: this.retracted.entries(),
      allocations: this.allocations.entries(),
      memory: remembered,
    };
  }

  get method(): string {
    return methodOf(this.config);
  }

  private get mixture(): MixtureOfLora {
    return this.core.mixture;
  }

  /** The mixture's tensors by stored name, as views of the live values (not copies), for writing them out: read only. */
  weightViews(): ReadonlyMap<string, StoredTensor> {
    return this.mixture.namedParameters();
  }

  /** The edited blocks, in the order of each code's layers. */
  get editedBlocks(): readonly number[] {
    return this.core.blocks;
  }

  /** Module names of the edited linears, in block order. */
  get editedSites(): string[] {
    return this.core.editedSites;
  }

  /** Module name of the linear whose input is the router query. */
  get querySite(): string {
    return this.core.querySite;
  }

  /** Number of live edits (codes in the codebook). */
  get liveEdits(): number {
    return this.codebook.size;
  }

  /** Whether edit `id` is live (its code is in the codebook). */
  isLive(id: string): boolean {
    return this.codebook.has(id);
  }

  /** Number of remembered edits (replayed and gated). */
  get rememberedEdits(): number {
    return this.memory.size;
  }

  /** The code stored for live edit `id` (a copy), or null. */
  storedCode(id: string): Uint32Array | null {
    return this.codebook.get(id);
  }

  /** What the editor remembers of edit `id` (read only), oldest first in {@link rememberedIds}. */
  remembered(id: string): Readonly<EditMemory> | undefined {
    return this.memory.get(id);
  }

  rememberedIds(): string[] {
    return this.memory.all().map((m) => m.id);
  }

  /** The stored allocation of `label`, or undefined before a batch with it commits. */
  allocationOf(label: string): Allocation | undefined {
    return this.allocations.get(label);
  }

  /** The allocations a batch of `labels` would train towards now: stored ones, and fresh ones drawn but not stored. */
  draftAllocations(labels: readonly string[]): Map<string, Allocation> {
    return this.allocations.draft(labels);
  }

  /** Trains a batch and commits it at once (in memory); the state folder trains with {@link train} and commits once the weights are durable. */
  applyBatch(edits: readonly TokenizedEdit[], onStep?: (report: StepReport) => void): { iterations: number; loss: number } {
    const result = this.train(edits, onStep === undefined ? undefined : ({ iteration, loss }) => onStep({ iteration, loss }));
    this.commit(edits, result);
    return { iterations: result.iterations, loss: result.loss };
  }

  /**
   * Trains the mixture on one batch next to the remembered edits and returns
   * each edit's code and its label's allocation (drawn for a new label).
   * Stores nothing: {@link commit} does.
   */
  train(edits: readonly TokenizedEdit[], onIteration?: (report: IterationReport) => void): BatchResult {
    const replay = this.config.rehearsal.replay;
    const drafted = this.allocations.draft(edits.map((e) => e.label));
    const allocationOf = (label: string): Allocation => {
      const allocation = drafted.get(label) ?? this.allocations.get(label);
      if (allocation === undefined) throw new Error(`ELDER: remembered label "${label}" has no allocation`);
      return allocation;
    };
    return trainBatch(this.core, this.memory.all(), edits, allocationOf, this.config.training, { scratch: this.scratch, replay, onIteration });
  }

  /** Stores a trained batch's allocations and codes, and remembers its edits. */
  commit(edits: readonly RememberedEdit[], result: Pick<BatchResult, 'codes' | 'allocations'>): void {
    for (const [label, allocation] of result.allocations) this.allocations.record(label, allocation);
    this.admit(
      edits.map((edit, b) => [edit.id, result.codes[b].code] as const),
      edits,
      true,
    );
  }

  loadWeights(weights: ReadonlyMap<string, StoredTensor>, source: string): void {
    this.mixture.loadValues(weights, source);
  }

  /** Retracts a live edit: its code moves to the retracted codes, so its inputs defer again, and it is no longer replayed. */
  retract(id: string): void {
    const code = this.codebook.get(id);
    this.codebook.remove(id);
    this.memory.forget(id);
    if (code !== null) this.retracted.add(id, code);
    this.gate.invalidate();
  }

  /** Stores codes, remembers edits, and (with fresh codes, when asked) re-routes every live code: the one way edits enter. */
  private admit(codes: ReadonlyArray<readonly [string, Uint32Array]>, edits: readonly RememberedEdit[], refresh: boolean): void {
    for (const [id, code] of codes) this.codebook.add(id, code);
    for (const edit of edits) {
      const memory = this.frozenCache?.get(edit.id) ?? memoryOf(this.core, this.gate, edit, this.config.training.trainEnding);
      this.frozenCache?.set(edit.id, memory);
      this.memory.add(memory);
    }
    if (refresh && this.config.rehearsal.freshCodes) this.refreshCodes();
    this.gate.invalidate();
  }

  /** Re-routes every live, remembered edit's query and stores the code the routers give it now. */
  private refreshCodes(): void {
    const live = this.liveMemories();
    const codes = this.core.codesOfQueries(live.map((m) => m.query));
    live.forEach((m, b) => {
      this.codebook.set(m.id, codes[b]);
    });
  }

  /** Remembered edits whose code is live. */
  private liveMemories(): EditMemory[] {
    return this.memory.all().filter((m) => this.codebook.has(m.id));
  }

  session(queryRows: Int32Array): ElderSession {
    return new ElderSession(this.core, this.gate, queryRows);
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
      epsilon: this.config.core.epsilon,
      codeText: codeToHex,
    };
  }

  /** The gate's movable radius, if it has one. */
  get gateRadius(): GateRadius | undefined {
    return this.gate.radius;
  }

  /** The allocation codes the routers give prompts now (for plots of the code space). */
  codesOf(prompts: readonly (readonly number[])[]): Uint32Array[] {
    const routing = this.core.route(promptPass(this.core, this.gate, prompts).query);
    return prompts.map((_, b) => this.core.codeOf(routing, b).code);
  }

  /** How prompts would be routed (the frozen pass only, in chunks of 32). */
  decisionsOf(prompts: readonly (readonly number[])[]): RoutingDecision[] {
    const decisions: RoutingDecision[] = [];
    for (let start = 0; start < prompts.length; start += 32) {
      const pass = promptPass(this.core, this.gate, prompts.slice(start, start + 32));
      decisions.push(...decideBatch(this.core, this.gate, pass.query, pass.inputs).decisions);
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
    const codes = this.core.codesOfQueries(live.map((m) => m.query));
    const stable = live.filter((m, b) => sameCode(codes[b], this.codebook.get(m.id)!)).length;
    const decisions = this.decisionsOf(unrelatedPrompts);
    return {
      codesStable: live.length === 0 ? NaN : stable / live.length,
      unrelatedDeferred: decisions.length === 0 ? NaN : decisions.filter((d) => d.deferred).length / decisions.length,
      unrelatedDistances: decisions.map((d) => d.distance),
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
    const prepared = prepareBatch([{ promptIds: [...promptIds], targetIds: [...targetIds] }], this.core.padId);
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
