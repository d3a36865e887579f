import fs from 'node:fs';
import path from 'node:path';
import { joinTarget, subjectSpanOf } from '../../editors/edit.js';
import { causalTrace, type TraceFact } from '../../eval/causal-trace.js';
import { readDataset } from '../../eval/datasets.js';
import { resolveModelDir } from '../../models/default-model.js';
import { argmax } from '../../models/generate.js';
import { loadModel } from '../../models/load.js';
import { requireTokenizer } from '../../models/tokenizer.js';
import { lineChart } from '../../plot/svg.js';
import { packageRoot } from '../../tensor/backends/native.js';
import { noGrad } from '../../tensor/tensor.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { UsageError } from '../../util/errors.js';
import { Progress } from '../../util/progress.js';
import { type CommandSpec, MODEL_OPTION, numberOption, optionalString, parseOptions } from '../args.js';

export const TRACE_COMMAND: CommandSpec = {
  name: 'trace',
  summary: "Causal tracing: which block's MLP recalls facts (ROME's choice of block), as JSON and a plot.",
  options: {
    ...MODEL_OPTION,
    data: { type: 'string', value: 'FILE', help: 'COUNTERFACT-style records with subject and target_true (default: the facts benchmark)' },
    facts: { type: 'string', value: 'N', help: 'known facts to trace (the first N the model answers)', default: '200' },
    samples: { type: 'string', value: 'N', help: 'noise samples per fact', default: '10' },
    window: { type: 'string', value: 'N', help: 'blocks restored together around the traced one', default: '1' },
    seed: { type: 'string', value: 'N', help: 'noise seed', default: '1' },
    out: { type: 'string', value: 'DIR', help: 'where trace.json and trace.svg go', default: 'bench-results/trace' },
  },
};

export function traceCommand(argv: string[]): void {
  const options = parseOptions(argv, TRACE_COMMAND);
  const modelDir = resolveModelDir(optionalString(options, 'model'));
  const dataFile = optionalString(options, 'data') ?? path.join(packageRoot(), 'bench', 'data', 'facts', 'counterfact.json');
  const wanted = numberOption(options, 'facts', 200, { min: 1, integer: true });
  const samples = numberOption(options, 'samples', 10, { min: 1, integer: true });
  const window = numberOption(options, 'window', 1, { min: 1, integer: true });
  const seed = numberOption(options, 'seed', 1, { integer: true });
  const outDir = optionalString(options, 'out') ?? 'bench-results/trace';
  const { model, tokenizer } = loadModel(modelDir);
  const tok = requireTokenizer(tokenizer, modelDir);

  // ROME traces facts the model knows: the greedy first token of the true answer.
  const facts: TraceFact[] = [];
  for (const record of readDataset(dataFile).records) {
    if (facts.length >= wanted) break;
    if (record.subject === undefined || record.trueTarget === undefined) continue;
    const promptIds = tok.encode(record.prompt);
    const span = subjectSpanOf(tok, record.prompt, promptIds, record.subject);
    const full = tok.encode(record.prompt + joinTarget(record.prompt, record.trueTarget));
    if (span === undefined || full.length <= promptIds.length || promptIds.length > model.config.contextLength) continue;
    const answerId = full[promptIds.length];
    const logits = noGrad(() => model.forward(Int32Array.from(promptIds), 1, promptIds.length)).data;
    const vocab = model.config.vocabSize;
    if (argmax(logits, (promptIds.length - 1) * vocab, vocab) !== answerId) continue;
    facts.push({ promptIds, subjectStart: span.start, subjectEnd: span.end, answerId });
  }
  if (facts.length === 0) throw new UsageError(`${dataFile}: no record with a subject and target_true that the model answers`);

  const progress = new Progress(facts.length, 'facts traced');
  const result = causalTrace(model, facts, { samples, noiseScale: 3, window, seed }, (done) =>
    progress.update(done, `${samples} noise samples each`, { final: done === facts.length }),
  );
  fs.mkdirSync(outDir, { recursive: true });
  // Paths inside elder's folder are recorded relative to it, so a committed trace names no machine.
  const shown = (file: string) => (path.resolve(file).startsWith(packageRoot()) ? path.relative(packageRoot(), path.resolve(file)) : file);
  const record = { model: shown(modelDir), data: shown(dataFile), ...result };
  writeFileAtomic(path.join(outDir, 'trace.json'), [Buffer.from(`${JSON.stringify(record, null, 2)}\n`)]);
  const svg = lineChart(
    [
      { name: 'MLP output', points: result.blocks.map((b) => ({ x: b.block, y: b.mlp })) },
      { name: 'attention output', points: result.blocks.map((b) => ({ x: b.block, y: b.attention })) },
    ],
    {
      title: `Causal trace: restoring one state at the subject's last token (${result.facts} facts, window ${window})`,
      xLabel: 'block',
      yLabel: 'indirect effect on p(answer)',
    },
  );
  writeFileAtomic(path.join(outDir, 'trace.svg'), [Buffer.from(svg)]);
  console.log(`p(answer): clean ${result.clean.toFixed(3)}, subject corrupted ${result.corrupted.toFixed(3)} (noise σ ${result.noiseStd.toFixed(3)})`);
  console.log('block  MLP effect  attention effect');
  for (const b of result.blocks) console.log(`${String(b.block).padStart(5)}  ${b.mlp.toFixed(4).padStart(10)}  ${b.attention.toFixed(4).padStart(16)}`);
  console.log(`strongest MLP: block ${result.strongestMlpBlock}; wrote ${path.join(outDir, 'trace.json')} and trace.svg`);
}
