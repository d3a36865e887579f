import { resolveModelDir } from '../../models/default-model.js';
import { generate } from '../../models/generate.js';
import { numberOption, parseOptions, requireString, optionalString } from '../args.js';
import { loadForText } from '../model-input.js';

export function generateCommand(argv: string[]): void {
  const options = parseOptions(
    argv,
    { model: { type: 'string' }, prompt: { type: 'string' }, 'max-tokens': { type: 'string' }, temperature: { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' } },
    'generate',
  );
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
    maxTokens, temperature, topP, seed,
    onToken: (id) => {
      ids.push(id);
      const text = tok.decode(ids);
      if (!text.endsWith('\uFFFD')) {
        process.stdout.write(text.slice(printed.length));
        printed = text;
      }
    },
  });
  const text = tok.decode(result.ids);
  process.stdout.write(text.slice(printed.length) + '\n');
  if (result.stoppedBy === 'context') process.stderr.write(`elder: stopped at the model's context of ${model.config.contextLength} tokens\n`);
}
