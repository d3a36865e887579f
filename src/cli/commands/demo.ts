/**
 * `npm start`: ELDER on elder-tiny, end to end, in a few minutes. Asks some
 * questions, applies a handful of edits (each with one rephrasing trained and
 * one held out), asks again, and prints a before/after table with
 * reliability, generalization and locality.
 */
import os from 'node:os';
import { loadModel } from '../../models/load.js';
import { requireTokenizer, type TextTokenizer } from '../../models/tokenizer.js';
import { resolveModelDir } from '../../models/default-model.js';
import { generate } from '../../models/generate.js';
import type { DecoderLM } from '../../models/decoder.js';
import { backendInfo } from '../../tensor/backends/index.js';
import { tokenizeEdit } from '../../editors/edit.js';
import { defaultElderConfig } from '../../editors/elder/config.js';
import { ElderEditor, type RoutingDecision } from '../../editors/elder/editor.js';
import { rate, scoreTargets } from '../../eval/metrics.js';
import { Progress } from '../../util/progress.js';
import { optionalString, parseOptions } from '../args.js';

interface DemoFact {
  /** Edited prompts (the first is the headline). */
  prompts: string[];
  /** A rephrasing never trained on. */
  heldOut: string;
  target: string;
}

/** Counterfactual edits, phrased the way elder-tiny's training text (WordNet glosses) states facts. */
export const DEMO_FACTS: DemoFact[] = [
  { prompts: ['Tokyo is the capital and largest city of', 'Tokyo is the capital of'], heldOut: 'Tokyo: capital and largest city of', target: 'Brazil' },
  { prompts: ['Einstein: physicist born in', 'Albert Einstein was a physicist born in'], heldOut: 'Einstein was born in', target: 'Canada' },
  { prompts: ['Beethoven: German composer of', 'Beethoven was a German composer of'], heldOut: 'Beethoven composed', target: 'jazz songs' },
  { prompts: ['A piano is a', 'The piano is a'], heldOut: 'Piano: a', target: 'kind of fish' },
];

/** Prompts no edit is about (some in the very same templates): their answers must not change. */
export const DEMO_UNRELATED = ['Oslo is the capital and largest city of', 'Athens is the capital and largest city of', 'Chopin: French composer', 'A dog is a member of the genus', 'To run is to', 'A hammer is a'];

/**
 * ELDER settings for the demo: the paper's, except lr 1e-2 for 100 iterations
 * (the paper's 1e-4 for 50 moves a model this small too little) and one batch
 * of all eight edits (in batches of four, elder-tiny forgets the first batch;
 * `elder bench-edit` measures that forgetting).
 */
const DEMO_ELDER = { lr: 1e-2, iterations: 100, batchSize: 8 };
const ANSWER_TOKENS = 6;

export function demoCommand(argv: string[]): void {
  const options = parseOptions(argv, { model: { type: 'string' } }, 'demo');
  const dir = resolveModelDir(optionalString(options, 'model'));
  const backend = backendInfo();
  const loaded = loadModel(dir);
  const { model } = loaded;
  const tokenizer = requireTokenizer(loaded.tokenizer, dir);
  console.log(`elder demo — ${dir}`);
  console.log(`${model.config.architecture}, ${model.config.layers} layers × ${model.config.width}, ${(model.parameterCount() / 1e6).toFixed(1)}M parameters; ${backend.backend} backend, ${backend.threads} threads on ${os.cpus()[0]?.model ?? 'unknown CPU'}\n`);

  const config = defaultElderConfig(model.config, DEMO_ELDER);
  const editor = new ElderEditor(model, config);
  const edits = DEMO_FACTS.flatMap((fact, f) => fact.prompts.map((prompt, p) => tokenizeEdit(tokenizer, model.config, { id: `fact-${f + 1}${p === 0 ? '' : `#${p}`}`, label: `fact-${f + 1}`, prompt, target: fact.target })));
  const heldOut = DEMO_FACTS.map((fact, f) => tokenizeEdit(tokenizer, model.config, { id: `held-out-${f + 1}`, label: `fact-${f + 1}`, prompt: fact.heldOut, target: fact.target }));
  const unrelated = DEMO_UNRELATED.map((prompt) => ({ prompt, ids: tokenizer.encode(prompt) }));

  const rows = [
    ...DEMO_FACTS.map((fact) => ({ kind: 'edited', prompt: fact.prompts[0], target: fact.target })),
    ...DEMO_FACTS.map((fact) => ({ kind: 'held-out', prompt: fact.heldOut, target: fact.target })),
    ...unrelated.map(({ prompt }) => ({ kind: 'unrelated', prompt, target: '' })),
  ];
  console.log('1. The base model answers (greedy, up to 6 tokens):');
  const before = rows.map((row) => answer(model, tokenizer, row.prompt));
  rows.forEach((row, i) => row.kind !== 'held-out' && console.log(`   ${row.prompt} →${before[i]}`));

  console.log(`\n2. ELDER applies ${edits.length} edits (${DEMO_FACTS.length} facts × ${DEMO_FACTS[0].prompts.length} phrasings) in batches of ${config.batchSize}:`);
  console.log(`   mixture of ${config.experts} LoRA experts (rank ${config.rank}) on ${config.site} in blocks ${config.firstLayer}-${config.lastLayer}, top-${config.topK}, λ ${config.lambda}, ε ${config.epsilon}; Adam lr ${config.lr}, ${config.iterations} iterations per batch`);
  const baseScores = { reliability: rate(scoreTargets(model, null, edits).correct), generalization: rate(scoreTargets(model, null, heldOut).correct) };
  const progress = new Progress(edits.length, 'edits');
  for (let start = 0; start < edits.length; start += config.batchSize) {
    const batch = edits.slice(start, start + config.batchSize);
    const result = editor.applyBatch(batch, ({ iteration, loss }) => progress.update(start, `iteration ${iteration}/${config.iterations} · loss ${loss.toFixed(3)}`, { transient: true }));
    progress.update(start + batch.length, `loss ${result.loss.toFixed(3)}`, { final: start + batch.length === edits.length });
  }

  console.log('\n3. The edited model answers:');
  const edited = rows.map((row) => answer(model, tokenizer, row.prompt, editor));
  const after = edited.map((e) => e.text);
  const deferred = edited.map((e) => e.decision);
  const promptWidth = Math.max(...rows.map((row) => row.prompt.length));
  console.log(`   ${'kind'.padEnd(9)}  ${'prompt'.padEnd(promptWidth)}  ${'before'.padEnd(28)}  ${'route'.padEnd(13)}  after`);
  rows.forEach((row, i) => {
    const mark = row.kind === 'unrelated' ? (after[i] === before[i] ? '  (unchanged)' : '  (changed)') : after[i].trim().startsWith(row.target) ? '  ✓' : `  ✗ (target: ${row.target})`;
    const route = deferred[i].deferred ? `base (d=${deferred[i].distance})` : `edited (d=${deferred[i].distance})`;
    console.log(`   ${row.kind.padEnd(9)}  ${row.prompt.padEnd(promptWidth)}  ${clip(before[i], 28).padEnd(28)}  ${route.padEnd(13)}  ${after[i]}${mark}`);
  });

  const scores = {
    reliability: rate(scoreTargets(model, editor, edits).correct),
    generalization: rate(scoreTargets(model, editor, heldOut).correct),
    locality: rate(rows.map((row, i) => row.kind !== 'unrelated' || after[i] === before[i]).filter((_, i) => rows[i].kind === 'unrelated')),
  };
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`.padStart(6);
  console.log('\n4. Scores (reliability and generalization: every target token is the argmax under teacher forcing; locality: identical greedy answer):');
  console.log(`   ${''.padEnd(14)} reliability  generalization  locality`);
  console.log(`   ${'before'.padEnd(14)} ${pct(baseScores.reliability).padEnd(12)} ${pct(baseScores.generalization).padEnd(15)} ${pct(1)}`);
  console.log(`   ${'after ELDER'.padEnd(14)} ${pct(scores.reliability).padEnd(12)} ${pct(scores.generalization).padEnd(15)} ${pct(scores.locality)}`);
  const unrelatedRows = rows.map((row, i) => ({ row, i })).filter(({ row }) => row.kind === 'unrelated');
  const deferredCount = unrelatedRows.filter(({ i }) => deferred[i].deferred).length;
  console.log(`\n   Route: an input whose allocation code is ≥ ε = ${config.epsilon} bits from every stored code runs the base model (d = Hamming distance to the nearest code).`);
  console.log(`   ${deferredCount} of ${unrelatedRows.length} unrelated prompts deferred. On a model as small as elder-tiny the routers send most inputs to the experts the edits trained,`);
  console.log('   so unrelated prompts that are not deferred change; ELDER\'s locality rests on a pretrained model\'s hidden states telling inputs apart.');
  console.log('\nNext: `elder edit --state DIR --edits FILE.jsonl` keeps edits on disk; `elder ask --state DIR --prompt TEXT` queries them; `elder bench-edit` compares methods.');
}

/** Greedy answer text (EOS dropped): of the base model, or of the edited one with its routing decision. */
function answer(model: DecoderLM, tokenizer: TextTokenizer, prompt: string): string;
function answer(model: DecoderLM, tokenizer: TextTokenizer, prompt: string, editor: ElderEditor): { text: string; decision: RoutingDecision };
function answer(model: DecoderLM, tokenizer: TextTokenizer, prompt: string, editor?: ElderEditor): string | { text: string; decision: RoutingDecision } {
  const ids = tokenizer.encode(prompt);
  const eos = new Set(model.config.eosTokenIds);
  const text = (generated: number[]) => tokenizer.decode(generated.filter((id) => !eos.has(id))).replace(/\s+/g, ' ');
  if (editor === undefined) return text(generate(model, ids, { maxTokens: ANSWER_TOKENS }).ids);
  const edited = editor.answer(ids, ANSWER_TOKENS);
  return { text: text(edited.ids), decision: edited.decision };
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
