/** Perplexity of a model on general text: documents joined by end-of-text, scored in consecutive context-length windows. */
import type { DecoderLM } from '../models/decoder.js';
import type { TextTokenizer } from '../models/tokenizer.js';
import { validationLoss } from '../train/pretrain.js';
import { generalTextIds } from './general-text.js';

export function generalTextPerplexity(
  model: DecoderLM,
  tokenizer: TextTokenizer,
  documents: readonly string[],
  batchSize = 8,
): { perplexity: number; tokens: number } {
  const ids = generalTextIds(documents, (text) => tokenizer.encode(text), model.config.eosTokenIds[0] ?? 0);
  const windowLength = Math.min(128, model.config.contextLength);
  const tokens = Int32Array.from(ids);
  const loss = validationLoss(model, tokens, { batchSize, windowLength, evalWindows: Number.MAX_SAFE_INTEGER });
  return { perplexity: Math.exp(loss), tokens: Math.floor((tokens.length - 1) / windowLength) * windowLength };
}
