import { resolveModelDir } from '../../models/default-model.js';
import { loadModel } from '../../models/load.js';
import { backendInfo } from '../../tensor/backends/index.js';
import { type CommandSpec, MODEL_OPTION, optionalString, parseOptions } from '../args.js';

export const INFO_COMMAND: CommandSpec = {
  name: 'info',
  summary: "A model's architecture, sizes, stored dtypes and tokenizer, and the compute backend elder runs on.",
  options: { ...MODEL_OPTION, json: { type: 'boolean', help: 'print JSON' } },
};

export function infoCommand(argv: string[]): void {
  const options = parseOptions(argv, INFO_COMMAND);
  const dir = resolveModelDir(optionalString(options, 'model'));
  const { model, tokenizer, storedDtypes } = loadModel(dir);
  const { config } = model;
  const backend = backendInfo();
  const report = {
    model: dir,
    architecture: config.architecture,
    modelType: config.modelType,
    layers: config.layers,
    width: config.width,
    heads: config.heads,
    kvHeads: config.kvHeads,
    ffnWidth: config.ffnWidth,
    vocabSize: config.vocabSize,
    contextLength: config.contextLength,
    tiedEmbeddings: config.tiedEmbeddings,
    parameters: model.parameterCount(),
    dtype: storedDtypes.join(', '),
    computeDtype: 'F32',
    // What the weights take in memory: half-precision matrices stay as stored (mapped), the rest is float32.
    weightBytes: [...model.parameters.values()].reduce((sum, t) => sum + t.heldBytes, 0),
    tokenizer: tokenizer !== null,
    backend: backend.backend,
    threads: backend.threads,
    ...(backend.simd ? { simd: backend.simd } : {}),
    ...(backend.fallbackReason ? { fallbackReason: backend.fallbackReason } : {}),
  };
  if (options.values.json) {
    console.log(JSON.stringify(report));
    return;
  }
  const width = Math.max(...Object.keys(report).map((k) => k.length));
  for (const [key, value] of Object.entries(report)) {
    const shown =
      key === 'parameters'
        ? `${(value as number).toLocaleString('en-US')} (${((value as number) / 1e6).toFixed(2)}M)`
        : key === 'weightBytes'
          ? `${((value as number) / 2 ** 30).toFixed(2)} GiB in memory`
          : String(value);
    console.log(`${key.padEnd(width)}  ${shown}`);
  }
}
