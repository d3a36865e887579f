import path from 'node:path';
import { expandRequests, tokenizeEdit, tokenizeEdits } from '../../editors/edit.js';
import { EditFileError, readEditsFile } from '../../editors/edits-file.js';
import { ElderState } from '../../editors/elder/store/state.js';
import { withAnswerEndings } from '../../editors/ending.js';
import { resolveModelDir } from '../../models/default-model.js';
import { loadModel } from '../../models/load.js';
import { Progress } from '../../util/progress.js';
import { type CommandSpec, MODEL_OPTION, optionalString, parseOptions, requireString } from '../args.js';
import { ELDER_OPTIONS, elderOverrides, FIXED_FLAGS } from '../elder-options.js';
import { requireTokenizer } from '../model-input.js';

export const EDIT_COMMAND: CommandSpec = {
  name: 'edit',
  summary:
    'Applies the edits of a JSONL file to a state (created on first use), journaled so that an interrupted run resumes without losing an acknowledged edit.',
  options: {
    ...MODEL_OPTION,
    state: { type: 'string', value: 'DIR', help: 'the ELDER state folder', required: true },
    edits: { type: 'string', value: 'FILE.jsonl', help: 'one edit per line: {"prompt", "target", "id"?, "label"?, "subject"?, "rephrases"?}', required: true },
    ...ELDER_OPTIONS,
  },
  notes: `A state keeps the settings it was created with. Of these, ${FIXED_FLAGS} shape its weights or codes: giving other values to an existing state is refused. The others apply to the run that gives them.`,
};

export function editCommand(argv: string[]): void {
  const options = parseOptions(argv, EDIT_COMMAND);
  const modelDir = resolveModelDir(optionalString(options, 'model'));
  const stateDir = requireString(options, 'state', 'edit');
  const editsFile = requireString(options, 'edits', 'edit');
  const overrides = elderOverrides(options);
  const requests = readEditsFile(editsFile);

  const { model, tokenizer } = loadModel(modelDir);
  const tok = requireTokenizer(tokenizer, modelDir);
  const state = ElderState.open(stateDir, model, { modelName: path.basename(path.resolve(modelDir)), overrides });
  try {
    const expanded = expandRequests(requests, state.files.edits.size);
    const { tokenized, problems: tokenProblems } = tokenizeEdits(tok, model.config, expanded);
    const problems = [
      ...expanded.filter((edit) => state.files.edits.has(edit.id)).map((edit) => `edit id "${edit.id}" already exists in the state`),
      ...tokenProblems.map((p) => p.message),
    ];
    if (problems.length > 0) throw new EditFileError(`${editsFile}: nothing applied:\n  ${problems.join('\n  ')}`);
    const edits = state.config.training.trainEnding ? withAnswerEndings(model, tok, tokenized) : tokenized;

    const { batchSize, iterations } = state.config.training;
    const progress = new Progress(edits.length, 'edits');
    let done = 0;
    let held = 0;
    for (let start = 0; start < edits.length; start += batchSize) {
      const batch = edits.slice(start, start + batchSize);
      const record = state.applyBatch(batch, ({ iteration, loss }) =>
        progress.update(done, `batch of ${batch.length}, iteration ${iteration}/${iterations}, loss ${loss.toFixed(4)}`, { transient: true }),
      );
      done += batch.length;
      progress.update(done, `loss ${record.loss.toFixed(4)} after ${record.iterations} iterations`, { final: done === edits.length });
      const checks = state.verifyBatch(
        batch,
        (stored) => tokenizeEdit(tok, model.config, stored),
        (ids) => tok.decode(ids),
      );
      record.edits.forEach((edit, b) => {
        const check = checks.batch[b];
        process.stdout.write(
          `applied ${edit.id} experts ${JSON.stringify(edit.experts)} ${check.holds ? 'holds' : 'does not hold (the edited model does not answer with its target cleanly)'}: ${JSON.stringify(check.answer)}\n`,
        );
      });
      held += checks.batch.filter((c) => c.holds).length;
      if (checks.earlier.length > 0) {
        const lost = checks.earlier.filter((c) => !c.holds).map((c) => c.id);
        process.stdout.write(
          `rechecked ${checks.earlier.length} earlier edits: ${checks.earlier.length - lost.length} hold${lost.length > 0 ? `; no longer hold: ${lost.join(', ')}` : ''}\n`,
        );
      }
    }
    process.stdout.write(`${edits.length} edits applied, ${held} of them hold; ${state.editor.liveEdits} codes in ${stateDir}\n`);
  } finally {
    state.close();
  }
}
