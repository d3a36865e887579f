import { resolveModelDir } from '../../models/default-model.js';
import { noGrad } from '../../tensor/tensor.js';
import { type CommandSpec, MODEL_OPTION, numberOption, optionalString, parseOptions, requireString } from '../args.js';

export const LOGITS_COMMAND: CommandSpec = {
  name: 'logits',
  summary: "The base model's most likely next tokens after a text.",
  options: {
    ...MODEL_OPTION,
    text: { type: 'string', value: 'TEXT', help: 'the text', required: true },
    top: { type: 'string', value: 'K', help: 'tokens to list', default: '10' },
    json: { type: 'boolean', help: 'print JSON' },
  },
};

import { loadForText } from '../model-input.js';

export function logitsCommand(argv: string[]): void {
  const options = parseOptions(argv, LOGITS_COMMAND);
  const dir = resolveModelDir(optionalString(options, 'model'));
  const text = requireString(options, 'text', 'logits');
  const top = numberOption(options, 'top', 10, { min: 1, integer: true });
  const { model, tokenizer: tok, ids } = loadForText(dir, text, 'logits: --text');
  const vocab = model.config.vocabSize;
  const logits = noGrad(() => model.forward(Int32Array.from(ids), 1, ids.length)).data;

  if (options.values.json) {
    // Written row by row: a full [T, vocab] matrix can be tens of megabytes of text.
    process.stdout.write(`{"ids":${JSON.stringify(ids)},"logits":[`);
    for (let t = 0; t < ids.length; t++) {
      process.stdout.write((t > 0 ? ',' : '') + JSON.stringify(Array.from(logits.subarray(t * vocab, (t + 1) * vocab))));
    }
    process.stdout.write(']}\n');
    return;
  }
  const last = logits.subarray((ids.length - 1) * vocab, ids.length * vocab);
  let max = -Infinity;
  for (const v of last) if (v > max) max = v;
  let sum = 0;
  for (const v of last) sum += Math.exp(v - max);
  const ranked = Array.from(last.keys())
    .sort((a, b) => last[b] - last[a])
    .slice(0, top);
  console.log(`${ids.length} tokens; next-token candidates after ${JSON.stringify(text)}:`);
  console.log(`${'rank'.padStart(4)}  ${'id'.padStart(6)}  ${'logit'.padStart(9)}  ${'prob'.padStart(7)}  token`);
  ranked.forEach((id, rank) => {
    const prob = Math.exp(last[id] - max) / sum;
    console.log(
      `${String(rank + 1).padStart(4)}  ${String(id).padStart(6)}  ${last[id].toFixed(4).padStart(9)}  ${prob.toFixed(4).padStart(7)}  ${JSON.stringify(tok.decode([id]))}`,
    );
  });
}
