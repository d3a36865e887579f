import { resolveModelDir } from '../../models/default-model.js';
import { ElderState } from '../../editors/elder/state.js';
import { numberOption, parseOptions, requireString, optionalString } from '../args.js';
import { loadForText } from '../model-input.js';

export function askCommand(argv: string[]): void {
  const options = parseOptions(argv, { model: { type: 'string' }, state: { type: 'string' }, prompt: { type: 'string' }, 'max-tokens': { type: 'string' }, json: { type: 'boolean' } }, 'ask');
  const modelDir = resolveModelDir(optionalString(options, 'model'));
  const stateDir = requireString(options, 'state', 'ask');
  const prompt = requireString(options, 'prompt', 'ask');
  const maxTokens = numberOption(options, 'max-tokens', 16, { min: 1, integer: true });
  const { model, tokenizer: tok, ids: promptIds } = loadForText(modelDir, prompt, 'ask: --prompt');
  const state = ElderState.open(stateDir, model, { modelName: '', readOnly: true });
  const { ids, decision } = state.editor.answer(promptIds, maxTokens);
  const answer = tok.decode(ids);
  if (options.values.json) {
    // distance is null when no edit is stored (nothing to compare with).
    const distance = Number.isFinite(decision.distance) ? decision.distance : null;
    const matched = decision.matched === undefined ? {} : { matched_edit: decision.matched };
    console.log(JSON.stringify({ answer, deferred: decision.deferred, distance, experts: decision.experts, ...matched }));
    return;
  }
  console.log(`${prompt}${answer}`);
  const gate = decision.matched === undefined ? '' : decision.matched === null ? ', no edit matched by query and subject' : `, matched edit ${decision.matched}`;
  const where = (decision.deferred ? 'deferred to the base model' : `edited model (nearest code: edit ${decision.nearestId})`) + gate;
  console.error(`[${where}; code distance ${decision.distance}, ε ${state.config.epsilon}; experts ${JSON.stringify(decision.experts)}]`);
}
