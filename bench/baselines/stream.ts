/** The first records of elder-facts' COUNTERFACT benchmark as a stream of tokenized edits, for the baseline studies beside this file. */
import path from 'node:path';
import type { TokenizedEdit } from '../../src/editors/edit.js';
import { tokenizeEdit } from '../../src/editors/edit.js';
import { readDataset } from '../../src/eval/datasets.js';
import { buildStream } from '../../src/eval/protocol.js';
import type { DecoderLM } from '../../src/models/decoder.js';
import { defaultModelDir } from '../../src/models/default-model.js';
import { loadModel } from '../../src/models/load.js';
import { packageRoot } from '../../src/tensor/backends/native.js';

export interface StudyStream {
  model: DecoderLM;
  /** Every record's edited prompts, in stream order. */
  edits: TokenizedEdit[];
  /** Other facts' prompts (the records' locality prompts). */
  otherFacts: number[][];
}

export function studyStream(records: number): StudyStream {
  const { model, tokenizer } = loadModel(defaultModelDir());
  const tok = tokenizer!;
  const { records: all } = readDataset(path.join(packageRoot(), 'bench', 'data', 'facts', 'counterfact.json'), 'counterfact');
  const { stream } = buildStream(all, records);
  return {
    model,
    edits: stream.flatMap((r) => r.edits.map((e) => tokenizeEdit(tok, model.config, e))),
    otherFacts: stream.flatMap((r) => r.locality.map((l) => tok.encode(l.prompt))),
  };
}
