import { resolveModelDir } from '../../models/default-model.js';
import { answerIds, generate } from '../../models/generate.js';
import { type CommandSpec, MODEL_OPTION, numberOption, optionalString, parseOptions, requireString } from '../args.js';

export const GENERATE_COMMAND: CommandSpec = {
  name: 'generate',
  summary: 'Continues a prompt with the base model, streaming the text.',
  options: {
    ...MODEL_OPTION,
    prompt: { type: 'string', value: 'TEXT', help: 'the prompt', required: true },
    'max-tokens': { type: 'string', value: 'N', help: 'tokens to generate', default: '32' },
    temperature: { type: 'string', value: 'T', help: 'sampling temperature; 0 is greedy', default: '0' },
    'top-p': { type: 'string', value: 'P', help: 'nucleus sampling mass', default: '1' },
    seed: { type: 'string', value: 'S', help: 'sampling seed', default: '0' },
  },
};

import { loadForText } from '../model-input.js';

export function generateCommand(argv: string[]): void {
  const options = parseOptions(argv, GENERATE_COMMAND);
  const dir = resolveModelDir(optionalString(options, 'model'));
  const prompt = requireString(options, 'prompt', 'generate');
  const maxTokens = numberOption(options, 'max-tokens', 32, { min: 0, integer: true });
  const temperature = numberOption(options, 'temperature', 0, { min: 0 });
  const topP = numberOption(options, 'top-p', 1, { min: Number.MIN_VALUE, max: 1 });
  const seed = numberOption(options, 'seed', 0, { integer: true });
  const { model, tokenizer: tok, ids: promptIds } = loadForText(dir, prompt, 'generate: --prompt');

  // Stream text as it is produced: decode everything so far and print what is new,
  // which keeps characters spread over several tokens intact.
  const ids: number[] = [];
  let printed = '';
  process.stdout.write(prompt);
  const result = generate(model, promptIds, {
    maxTokens,
    temperature,
    topP,
    seed,
    onToken: (id) => {
      // The end-of-text token ends the text; it is not printed.
      if (model.config.eosTokenIds.includes(id)) return;
      ids.push(id);
      const text = tok.decode(ids);
      if (!text.endsWith('\uFFFD')) {
        process.stdout.write(text.slice(printed.length));
        printed = text;
      }
    },
  });
  const text = tok.decode(answerIds(result));
  process.stdout.write(`${text.slice(printed.length)}\n`);
  if (result.stoppedBy === 'context') process.stderr.write(`elder: stopped at the model's context of ${model.config.contextLength} tokens\n`);
}
