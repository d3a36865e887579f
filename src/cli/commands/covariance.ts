import { padTokenId } from '../../editors/common/batch.js';
import { CovarianceCache, cachedCovariances } from '../../editors/locate/covariance.js';
import { COVARIANCE_TOKENS, covarianceText } from '../../facts/covariance-text.js';
import { resolveModelDir } from '../../models/default-model.js';
import { loadModel } from '../../models/load.js';
import { requireTokenizer } from '../../models/tokenizer.js';
import { UsageError } from '../../util/errors.js';
import { type CommandSpec, MODEL_OPTION, numberOption, optionalString, parseOptions } from '../args.js';

export const COVARIANCE_COMMAND: CommandSpec = {
  name: 'covariance',
  summary: 'Measure and cache the key covariances the locate-then-edit methods (ROME, MEMIT, …) need.',
  options: {
    ...MODEL_OPTION,
    blocks: { type: 'string', value: 'A-B', help: 'blocks to measure (default: every block)' },
    tokens: { type: 'string', value: 'N', help: 'tokens of text to average over', default: String(COVARIANCE_TOKENS) },
    text: {
      type: 'string',
      value: 'FILE',
      help: "text like the model's training data: JSON lines of strings, or plain text (default for elder-facts: its pretraining mix)",
    },
    cache: { type: 'string', value: 'DIR', help: 'cache folder (default $ELDER_CACHE_DIR/covariance or ~/.cache/elder/covariance)' },
  },
};

/** "3", "2-5" → the blocks; every block when absent. */
export function parseBlocks(text: string | undefined, layers: number): number[] {
  if (text === undefined) return Array.from({ length: layers }, (_, i) => i);
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  if (match === null) throw new UsageError(`--blocks must be a block or a range A-B, got "${text}"`);
  const first = Number(match[1]);
  const last = match[2] === undefined ? first : Number(match[2]);
  if (first > last || last >= layers) throw new UsageError(`--blocks ${text} is outside the model's blocks 0-${layers - 1}`);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

export function covarianceCommand(argv: string[]): void {
  const options = parseOptions(argv, COVARIANCE_COMMAND);
  const modelDir = resolveModelDir(optionalString(options, 'model'));
  const { model, tokenizer } = loadModel(modelDir);
  const tok = requireTokenizer(tokenizer, modelDir);
  const blocks = parseBlocks(optionalString(options, 'blocks'), model.config.layers);
  const tokens = numberOption(options, 'tokens', COVARIANCE_TOKENS, { min: 1, integer: true });
  const cacheDir = optionalString(options, 'cache');
  const cache = new CovarianceCache(cacheDir);
  const text = covarianceText({
    modelDir,
    tokenizer: tok,
    endOfText: padTokenId(model.config),
    windowLength: Math.min(128, model.config.contextLength),
    tokens,
    textFile: optionalString(options, 'text'),
  });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const covariances = cachedCovariances(model, cache, text, log)(blocks);
  for (const covariance of covariances) {
    console.log(
      `block ${covariance.block}: ${covariance.width}×${covariance.width} over ${covariance.tokens} tokens, ${cache.fileFor(covariance.fingerprint, covariance.site, covariance.block)}`,
    );
  }
}
