import { ElderState } from '../../editors/elder/store/state.js';
import { resolveModelDir } from '../../models/default-model.js';
import { answerIds, finishReason } from '../../models/generate.js';
import { type CommandSpec, MODEL_OPTION, numberOption, optionalString, parseOptions, requireString } from '../args.js';

export const ASK_COMMAND: CommandSpec = {
  name: 'ask',
  summary: 'Answers a prompt with the edited model of a state, and says whether an edit matched or the base model answered.',
  options: {
    ...MODEL_OPTION,
    state: { type: 'string', value: 'DIR', help: 'the ELDER state folder', required: true },
    prompt: { type: 'string', value: 'TEXT', help: 'the prompt', required: true },
    'max-tokens': { type: 'string', value: 'N', help: 'tokens to generate', default: '16' },
    json: { type: 'boolean', help: 'print JSON: the text, why it ended (stop or length), the route and the matched edit' },
  },
};

import { loadForText } from '../model-input.js';

export function askCommand(argv: string[]): void {
  const options = parseOptions(argv, ASK_COMMAND);
  const modelDir = resolveModelDir(optionalString(options, 'model'));
  const stateDir = requireString(options, 'state', 'ask');
  const prompt = requireString(options, 'prompt', 'ask');
  const maxTokens = numberOption(options, 'max-tokens', 16, { min: 1, integer: true });
  const { model, tokenizer: tok, ids: promptIds } = loadForText(modelDir, prompt, 'ask: --prompt');
  const state = ElderState.open(stateDir, model, { modelName: '', readOnly: true });
  const generation = state.editor.answer(promptIds, maxTokens);
  const { decision } = generation;
  const answer = tok.decode(answerIds(generation));
  if (options.values.json) {
    // distance is null when no edit is stored (nothing to compare with).
    const distance = Number.isFinite(decision.distance) ? decision.distance : null;
    const matched = decision.matched === undefined ? {} : { matched_edit: decision.matched };
    console.log(
      JSON.stringify({ answer, finish_reason: finishReason(generation), deferred: decision.deferred, distance, experts: decision.experts, ...matched }),
    );
    return;
  }
  console.log(`${prompt}${answer}`);
  const gate =
    decision.matched === undefined ? '' : decision.matched === null ? ', no edit matched by query and subject' : `, matched edit ${decision.matched}`;
  const where = (decision.deferred ? 'deferred to the base model' : `edited model (nearest code: edit ${decision.nearestId})`) + gate;
  console.error(`[${where}; code distance ${decision.distance}, ε ${state.config.core.epsilon}; experts ${JSON.stringify(decision.experts)}]`);
}
