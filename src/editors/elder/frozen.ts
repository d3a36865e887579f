/**
 * The frozen part of ELDER's forward pass: the blocks below the first edited
 * block never change, so they run once per batch (or once per edit, for the
 * replay memory), yielding the hidden state entering the first edited block,
 * the router query, and whatever the gate reads (its keys for an edit, its
 * inputs for a prompt).
 */
import type { TokenBatch } from '../../models/batch.js';
import type { LinearHook } from '../../models/decoder.js';
import { selectRows } from '../../tensor/ops/select.js';
import { noGrad, type Tensor } from '../../tensor/tensor.js';
import { prepareBatch } from '../common/batch.js';
import type { TokenizedEdit } from '../edit.js';
import { frozenBlocks, runBefore } from '../editor.js';
import { targetWithEnding } from '../ending.js';
import type { ElderCore, FrozenPrefix } from './core.js';

/** What a gate keeps of one edit (named vectors, its own to read; null where the edit gave nothing to key on). */
export type GateKeys = Readonly<Record<string, Float32Array | null>>;

/** What a gate reads of a batch of prompts to decide them (its own to read). */
export type GateInputs = Readonly<Record<string, unknown>>;

/** Where a sequence's subject lies in a batch's flattened rows: its first and last token. */
export interface SubjectRows {
  start: number;
  end: number;
}

/** The captures a gate adds to a forward pass before any expert acts. */
export interface GateCaptures {
  /** The deepest block whose linear input the gate reads (a frozen pass runs through it when it lies at or above the first edited block). */
  readonly deepestBlock: number;
  /** Captures the keys of edits whose last prompt tokens sit at `queryRows` and whose subjects lie at `subjects` (null: no subject named). */
  captureKeys(hooks: Map<string, LinearHook>, queryRows: Int32Array, subjects: readonly (SubjectRows | null)[]): () => GateKeys[];
  /** Where the gate keys on the subject as a text's opening words: captures them from a pass over the subject's tokens `ids` alone. */
  captureOpening?(hooks: Map<string, LinearHook>, ids: readonly number[]): () => GateKeys;
  /** Captures what the gate decides prompts from. */
  captureInputs(hooks: Map<string, LinearHook>, queryRows: Int32Array): () => GateInputs;
}

/** An edit as it is remembered for replay and gating. */
export type RememberedEdit = Pick<TokenizedEdit, 'id' | 'label' | 'promptIds' | 'targetIds' | 'endingIds' | 'subjectEnd' | 'subjectStart' | 'subjectIds'>;

/**
 * What the editor keeps of a live edit: its tokens and label, the frozen
 * part of its forward pass (the hidden state entering the first edited
 * block, and the router query) and the gate's keys. The frozen part is a
 * function of the base model and the tokens alone, so it is recomputed,
 * never stored, when a state is opened.
 */
export interface EditMemory {
  id: string;
  label: string;
  promptIds: number[];
  targetIds: number[];
  /** The base model's ending after its own answer (trained after the target when training asks for endings). */
  endingIds: number[];
  subjectEnd?: number;
  subjectStart?: number;
  subjectIds?: number[];
  /** Hidden states entering the first edited block, [promptIds + trained target, width]. */
  hidden: Float32Array;
  /** The router query (input of the query site at the last prompt token). */
  query: Float32Array;
  keys: GateKeys;
}

/** An edit as training fits it: the target, then (with `withEnding`) the base model's ending after its own answer. */
export function trainedSequence(
  edit: Pick<TokenizedEdit, 'promptIds' | 'targetIds' | 'endingIds'>,
  withEnding: boolean,
): { promptIds: number[]; targetIds: number[] } {
  return { promptIds: edit.promptIds, targetIds: withEnding ? targetWithEnding(edit) : edit.targetIds };
}

/**
 * Runs the frozen blocks with `hooks` (and, when the gate reads the first
 * edited block's linear input, that block too, without experts) and
 * captures the router query at `queryRows`.
 */
export function frozenPass(core: ElderCore, tokens: TokenBatch, queryRows: Int32Array, hooks: Map<string, LinearHook>, gate?: GateCaptures): FrozenPrefix {
  let query: Tensor | undefined;
  runBefore(hooks, core.querySite, (input) => (query = selectRows(input, queryRows)));
  const { firstBlock } = core.config;
  const hidden = frozenBlocks(core.model, tokens, firstBlock, hooks);
  if (gate !== undefined && gate.deepestBlock >= firstBlock) {
    noGrad(() => core.model.runBlocks(hidden, firstBlock, gate.deepestBlock + 1, { hooks }));
  }
  return { hidden, query: query! };
}

/**
 * Remembers an edit: its frozen pass runs alone, never padded into a batch,
 * because sgemm may order a sum differently with the number of rows (OpenBLAS
 * does on AVX2 CPUs), and a state reopened from its journal must recompute
 * exactly what it remembered.
 */
export function memoryOf(core: ElderCore, gate: GateCaptures, edit: RememberedEdit, withEnding: boolean): EditMemory {
  const prepared = prepareBatch([trainedSequence(edit, withEnding)], core.padId);
  const hooks = new Map<string, LinearHook>();
  const keys = gate.captureKeys(hooks, prepared.queryRows, [subjectRowsOf(edit)]);
  const pass = frozenPass(core, prepared.tokens, prepared.queryRows, hooks, gate);
  return {
    id: edit.id,
    label: edit.label,
    promptIds: [...edit.promptIds],
    targetIds: [...edit.targetIds],
    endingIds: [...(edit.endingIds ?? [])],
    ...(edit.subjectEnd === undefined ? {} : { subjectEnd: edit.subjectEnd }),
    ...(edit.subjectStart === undefined ? {} : { subjectStart: edit.subjectStart }),
    ...(edit.subjectIds === undefined ? {} : { subjectIds: [...edit.subjectIds] }),
    hidden: pass.hidden.data.slice(),
    query: pass.query.data.slice(),
    keys: { ...keys()[0], ...openingKeys(core, gate, edit) },
  };
}

/** The subject's rows in a batch of one sequence (its last token alone where the start was not kept), or null where the edit named none. */
function subjectRowsOf(edit: Pick<RememberedEdit, 'subjectStart' | 'subjectEnd'>): SubjectRows | null {
  return edit.subjectEnd === undefined ? null : { start: edit.subjectStart ?? edit.subjectEnd, end: edit.subjectEnd };
}

/** The gate's keys of the subject as a text's opening words, where the gate reads them and the edit kept the subject's tokens. */
function openingKeys(core: ElderCore, gate: GateCaptures, edit: RememberedEdit): GateKeys {
  if (gate.captureOpening === undefined || edit.subjectIds === undefined || edit.subjectIds.length === 0) return {};
  const prepared = prepareBatch([{ promptIds: [...edit.subjectIds], targetIds: [] }], core.padId);
  const hooks = new Map<string, LinearHook>();
  const keys = gate.captureOpening(hooks, edit.subjectIds);
  frozenPass(core, prepared.tokens, prepared.queryRows, hooks, gate);
  return keys();
}

/** Prompts' router queries and gate inputs, from the frozen pass alone. */
export function promptPass(core: ElderCore, gate: GateCaptures, prompts: readonly (readonly number[])[]): { query: Tensor; inputs: GateInputs } {
  const prepared = prepareBatch(
    prompts.map((ids) => ({ promptIds: [...ids], targetIds: [] })),
    core.padId,
  );
  const hooks = new Map<string, LinearHook>();
  const inputs = gate.captureInputs(hooks, prepared.queryRows);
  const pass = frozenPass(core, prepared.tokens, prepared.queryRows, hooks, gate);
  return { query: pass.query, inputs: inputs() };
}
