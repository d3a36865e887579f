/**
 * What an editor may need beyond the model and its configuration, handed in
 * by whoever builds it (the benchmark runner, a test): methods that need
 * none ignore it, and a method that needs what is missing says so when built.
 */
/** E[k kᵀ] of one block's keys, and where it came from. */
export interface KeyCovariance {
  /** The linear whose inputs are the keys (`mlp.c_proj`, `mlp.down_proj`). */
  site: string;
  block: number;
  /** Key width (the FFN width). */
  width: number;
  /** Keys averaged: every position of every text window. */
  tokens: number;
  /** What text the keys came from (files, packages, token count). */
  corpus: string;
  /** The weight fingerprint of the model measured. */
  fingerprint: string;
  /** E[k kᵀ], row-major width × width. */
  second: Float64Array;
}

export interface EditorResources {
  /** Key covariances of the MLP output projection at `blocks` (locate-then-edit methods), read from the cache or measured. */
  keyCovariances?(blocks: readonly number[]): KeyCovariance[];
  /** The model's tokenizer (methods that build prompts of their own, as ROME's "{subject} is a"). */
  encode?(text: string): number[];
  /**
   * Phrasings (token ids) of facts no evaluated prompt comes from, one group
   * per fact (`elder bench-edit`: the records after the edited ones, the
   * benchmark's training split): SERAC trains its scope classifier on them,
   * WISE takes its irrelevant inputs from them.
   */
  trainingPhrasings?: readonly (readonly (readonly number[])[])[];
  /** One-line notes for the user (a solve that had to be regularised). */
  note?(line: string): void;
}
