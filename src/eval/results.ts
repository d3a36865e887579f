/**
 * What a benchmark run produces: the results of each method and of the base
 * model, as results.json holds them and the report and the service read them.
 */

import type { EditorDiagnostics } from '../editors/editor.js';
import type { MethodName } from '../editors/registry.js';
import type { CodeEmbedding } from './code-embedding.js';
import type { DatasetFormat } from './datasets.js';
import type { GenerationScores } from './generation.js';

/** New tokens of each greedy generation the generation metrics read (ROME's fluency reads longer, sampled ones; answers of facts are short). */
export const GENERATION_TOKENS = 32;

/** One gate radius, measured on the edits trained through the whole stream. */
export interface GateSweepPoint {
  radius: number;
  reliability: number;
  generalization: number;
  /** Generalization split by whether the base model understands the rephrasing (as {@link MethodResult.generalizationByBase}; absent in runs saved before it existed). */
  generalizationByBase?: { known: number; unknown: number };
  locality: number;
  uneditedFacts: number;
}

export interface RetentionPoint {
  edits: number;
  /** Reliability of every edit applied so far. */
  reliability: number;
  /** Reliability of the edits of the stream's first {@link EARLY_RECORDS} records (how well the earliest edits survive). */
  early: number;
}

/** The records whose edits the early-retention curve follows. */
export const EARLY_RECORDS = 100;

export interface MethodResult {
  method: MethodName;
  config: object;
  editsApplied: number;
  reliability: number;
  reliabilityTokens: number;
  generalization: number;
  generalizationTokens: number;
  /**
   * Generalization split by whether the base model states the edited fact's
   * true object in that rephrasing (records that name it): an edit can hardly
   * be expected to carry to a phrasing the model does not understand for its
   * own fact. Absent where the data names no true object, and in runs saved before it existed.
   */
  generalizationByBase?: { known: number; unknown: number };
  locality: number;
  /**
   * Share of the locality prompts that state a fact (they carry an answer) whose
   * whole answer is still the teacher-forced argmax. Absent in runs saved before it existed.
   */
  uneditedFacts?: number;
  /** Perplexity on held-out general text, each window routed as one input. Absent in runs saved before it existed. */
  perplexity?: number;
  retention: RetentionPoint[];
  secondsPerEdit: number;
  addedParameters: number;
  /** ELDER family: a 2-D embedding of allocation codes (rephrasing groups and unrelated prompts). */
  codeEmbedding?: CodeEmbedding;
  /** Methods that report routing diagnostics (ELDER): one entry per batch. */
  diagnostics?: Array<{ edits: number } & EditorDiagnostics>;
  /** ELDER family: nearest-code distances at the end, for held-out rephrasings and for unrelated prompts. */
  codeDistances?: { heldOut: number[]; unrelated: number[]; epsilon: number };
  /** What the edited model generates: answers, fluency, repetition (absent in runs saved before it existed). */
  generation?: GenerationScores;
  /** With `gateRadii`, for a method whose gate radius can be moved: each radius measured on the finished stream (the row above is the radius it trained with). */
  gateSweep?: GateSweepPoint[];
  /** The gate radius the method ran with (methods with a movable radius). */
  gateRadius?: number;
  /** With `--tasks`: each general task's score on the base model and after the stream (accuracy, ROUGE or F1, in [0, 1]). */
  tasks?: Record<string, { before: number; after: number }>;
  /** With `--tasks`: the mean task score after the stream, and the base model's (the paper's test retention). */
  taskRetention?: { after: number; base: number };
}

export interface BenchResults {
  complete: true;
  createdAt: string;
  model: { dir: string; architecture: string; layers: number; width: number; parameters: number };
  data: {
    file: string;
    format: DatasetFormat;
    records: number;
    editPrompts: number;
    heldOutPrompts: number;
    localityPrompts: number;
    skippedWithoutRephrase: number;
  };
  protocol: string;
  settings: { batchSize: number; evalEvery: number; seed: number; localityTokens: number; methods: MethodName[] };
  machine: string;
  /** The unedited model on the same prompts. */
  base: {
    reliability: number;
    generalization: number;
    uneditedFacts: number;
    perplexity: number;
    /** Held-out rephrasings of records naming a true object, and the share of them the base model answers with it (absent in runs saved before it existed). */
    heldOutTrue?: { prompts: number; known: number };
    /** The unedited model's generations on the same prompts (absent in runs saved before it existed). */
    generation?: GenerationScores;
    /** With `--tasks`: each general task's score. */
    tasks?: Record<string, number>;
  };
  /** What retention (unedited facts, perplexity) was measured on. */
  retentionData?: { factPrompts: number; generalTextTokens: number };
  methods: MethodResult[];
}
