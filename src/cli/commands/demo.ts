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
import { ElderEditor } from '../../editors/elder/editor.js';
import type { Editor } from '../../editors/editor.js';
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

/** Counterfactual edits phrased the way elder-tiny's training text (WordNet glosses) states facts. */
export const DEMO_FACTS: DemoFact[] = [
  { prompts: ['Paris is the capital of', 'The city of Paris is the capital of'], heldOut: 'Paris: the capital of', target: 'Japan' },
  { prompts: ['A violin is a', 'The violin is a'], heldOut: 'Violin: a', target: 'small yellow bird' },
  { prompts: ['Shakespeare was an English', 'William Shakespeare was an English'], heldOut: 'Shakespeare: English', target: 'astronaut' },
  { prompts: ['The Nile is a river in', 'The Nile river flows through'], heldOut: 'Nile: a river in', target: 'Norway' },
];

/** Prompts no edit is about: their answers must not change. */
export const DEMO_UNRELATED = ['A dog is a', 'To run is to', 'Water is a', 'Mozart was an Austrian', 'A hammer is a', 'Rome is the capital of'];

/** ELDER settings for the demo: the paper's, except a learning rate that lets 50 iterations suffice on a model this small. */
const DEMO_ELDER = { lr: 1e-2, iterations: 50, batchSize: 4 };
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
  const before = rows.map((row) => answer(model, tokenizer, null, row.prompt));
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
  const after = rows.map((row) => answer(model, tokenizer, editor, row.prompt));
  const promptWidth = Math.max(...rows.map((row) => row.prompt.length));
  console.log(`   ${'kind'.padEnd(9)}  ${'prompt'.padEnd(promptWidth)}  ${'before'.padEnd(28)}  after`);
  rows.forEach((row, i) => {
    const mark = row.kind === 'unrelated' ? (after[i] === before[i] ? '  (unchanged)' : '  (changed)') : after[i].trim().startsWith(row.target) ? '  ✓' : `  ✗ (target: ${row.target})`;
    console.log(`   ${row.kind.padEnd(9)}  ${row.prompt.padEnd(promptWidth)}  ${clip(before[i], 28).padEnd(28)}  ${after[i]}${mark}`);
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
  console.log('\nNext: `elder edit --state DIR --edits FILE.jsonl` keeps edits on disk; `elder ask --state DIR --prompt TEXT` queries them; `elder bench-edit` compares methods.');
}

function answer(model: DecoderLM, tokenizer: TextTokenizer, editor: Editor | null, prompt: string): string {
  const ids = tokenizer.encode(prompt);
  const hooks = editor?.hooksFor(Int32Array.of(ids.length - 1));
  const eos = new Set(model.config.eosTokenIds);
  const generated = generate(model, ids, { maxTokens: ANSWER_TOKENS, hooks }).ids.filter((id) => !eos.has(id));
  return tokenizer.decode(generated).replace(/\s+/g, ' ');
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
