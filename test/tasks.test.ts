import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../src/eval/datasets.js';
import { greedyText } from '../src/eval/metrics.js';
import { runBenchmark } from '../src/eval/runner.js';
import { entitiesOf, readGuTask } from '../src/eval/tasks/gu-2024.js';
import { readTasks } from '../src/eval/tasks/read-tasks.js';
import { bestChoice, scoreTasks } from '../src/eval/tasks/run-tasks.js';
import { parseTaskLines } from '../src/eval/tasks/task-file.js';
import { buildGeneralTasks, DEFAULT_GENERAL_TASK_OPTIONS, localityFactsOf } from '../src/facts/general-tasks.js';
import { readFactTable } from '../src/facts/table.js';
import { loadModel } from '../src/models/load.js';
import { InputError } from '../src/util/errors.js';
import { hasShared, repoRoot, tinyGpt2Dir } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-tasks-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

const lines = (...records: object[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

test('task JSONL: every kind reads, grouped by task; a malformed line, an answer outside its choices or an unknown kind is refused with file, line and field', () => {
  const file = 'tasks.jsonl';
  const tasks = parseTaskLines(
    lines(
      { task: 'rte', kind: 'choice', prompt: 'p', choices: [' True', ' False'], answer: 1 },
      { task: 'nq', kind: 'exact', prompt: 'q', answers: ['Paris'], maxTokens: 4 },
      { task: 'rte', kind: 'choice', prompt: 'p2', choices: [' True', ' False'], answer: 0 },
      { task: 'gsm8k', kind: 'number', prompt: 'g', answer: 18 },
      { task: 'samsum', kind: 'rouge', prompt: 'd', reference: 'a summary' },
      { task: 'conll03', kind: 'entities', prompt: 'n', entityType: 'PER', entities: [] },
    ),
    file,
  );
  assert.deepEqual(
    tasks.map((t) => [t.name, t.kind, t.examples.length]),
    [
      ['rte', 'choice', 2],
      ['nq', 'exact', 1],
      ['gsm8k', 'number', 1],
      ['samsum', 'rouge', 1],
      ['conll03', 'entities', 1],
    ],
  );
  assert.deepEqual(tasks[2].examples[0], { kind: 'number', prompt: 'g', answer: '18' });
  const refused = (text: string, message: RegExp) =>
    assert.throws(
      () => parseTaskLines(text, file),
      (e: Error) => e instanceof InputError && message.test(e.message),
    );
  refused(`${lines({ task: 'a', kind: 'exact', prompt: 'p', answers: ['x'] })}{"task": \n`, /^tasks\.jsonl: line 2: not JSON/);
  refused(
    lines({ task: 'a', kind: 'choice', prompt: 'p', choices: ['x', 'y'], answer: 2 }),
    /^tasks\.jsonl: line 1: "answer" must index "choices" \(0 to 1\), got 2$/,
  );
  refused(
    lines({ task: 'a', kind: 'cloze', prompt: 'p' }),
    /^tasks\.jsonl: line 1: "kind" must be one of choice, exact, number, rouge, entities, got "cloze"$/,
  );
  refused(lines({ task: 'a', kind: 'exact', prompt: '', answers: ['x'] }), /line 1: "prompt" must be a non-empty string/);
  refused(
    lines({ task: 'a', kind: 'exact', prompt: 'p', answers: ['x'] }, { task: 'a', kind: 'rouge', prompt: 'p', reference: 'r' }),
    /line 2: "kind" is "rouge", but task "a" is "exact"/,
  );
  refused(lines({ task: 'a', kind: 'number', prompt: 'p', answer: 'many' }), /line 1: "answer" must be a number/);
});

test("Gu et al.'s task-data files read in their own formats, with their prompts", () => {
  const dir = path.join(tmp, 'gu');
  write('gu/test-NLI.tsv', 'index\tsentence1\tsentence2\tlabel\n0\tA dog runs.\tAn animal moves.\tentailment\n1\tA dog runs.\tA cat sleeps.\tnot_entailment\n');
  write('gu/test-ClosedDomainQA.jsonl', lines({ passage: 'Water is wet.', question: 'is water wet', answer: true }));
  write('gu/test-SentimentAnalysis.tsv', 'sentence\tlabel\na great film\t1\na dull film\t0\n');
  write('gu/test-dialogue/dev_2.txt', JSON.stringify({ answers: 'C', options: ['a', 'b', 'c', 'd'], article: 'M: hi F: hello' }));
  write('gu/test-dialogue/dev_10.txt', JSON.stringify({ answers: 'A', options: ['a', 'b', 'c', 'd'], article: 'M: bye' }));
  write(
    'gu/test-NER.txt',
    '-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n, , O O\nsays VBZ B-VP O\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n. . O O\n\n',
  );
  write('gu/test-OpenDomainQA.jsonl', lines({ question: 'capital of France', document: ['Paris is the capital of France.'], answer: ['Paris'] }));
  write('gu/test-reasoning.jsonl', lines({ question: 'What is 2 + 3?', answer: '2 + 3 = 5.\n#### 5' }));
  write('gu/test-summarization.json', JSON.stringify([{ dialogue: 'A: hi\nB: hello', summary: 'A and B greet.' }]));
  const tasks = readTasks([dir]);
  assert.deepEqual(tasks.map((t) => `${t.name}:${t.kind}:${t.examples.length}`).sort(), [
    'boolq:choice:1',
    'conll03:entities:4',
    'gsm8k:number:1',
    'mutual:choice:2',
    'nq:exact:1',
    'rte:choice:2',
    'samsum:rouge:1',
    'sst2:choice:2',
  ]);
  const byName = new Map(tasks.map((t) => [t.name, t]));
  assert.deepEqual(byName.get('rte')!.examples[0], {
    kind: 'choice',
    prompt: 'A dog runs. entails the An animal moves.. True or False? answer:',
    choices: [' True', ' False'],
    answer: 0,
  });
  assert.equal((byName.get('rte')!.examples[1] as { answer: number }).answer, 1);
  assert.deepEqual(
    byName.get('sst2')!.examples.map((e) => (e as { answer: number }).answer),
    [0, 1],
  );
  const mutual = byName.get('mutual')!.examples;
  assert.deepEqual(
    mutual.map((e) => (e as { answer: number }).answer),
    [2, 0],
    'dev_2 before dev_10',
  );
  assert.match(mutual[0].prompt, /^Q: M: hi F: hello Which choice is correct\? Answer Chioces: \(A\)a\(B\)b\(C\)c\(D\)d A: Among A through D, the answer is$/);
  const ner = byName.get('conll03')!.examples as Array<{ prompt: string; entityType: string; entities: string[] }>;
  assert.equal(ner[0].prompt, 'Please identify Person Entity from the given text. Text: EU rejects German call, says Peter Blackburn. Entity:');
  assert.deepEqual(
    ner.map((e) => [e.entityType, e.entities]),
    [
      ['PER', ['Peter Blackburn']],
      ['LOC', []],
      ['ORG', ['EU']],
      ['MISC', ['German']],
    ],
  );
  assert.deepEqual(byName.get('gsm8k')!.examples[0], {
    kind: 'number',
    prompt: "Q: What is 2 + 3? A:Let's think step by step. 2 + 3 = 5.\n Therefore, the answer (arabic numerals) is:",
    answer: '5',
  });
  assert.equal(byName.get('samsum')!.examples[0].prompt, 'A: hi\nB: hello\nTL;DR:');
  assert.equal(readTasks([dir], 1).find((t) => t.name === 'rte')!.examples.length, 1, '--task-limit');
  // IOB1 starts an entity at I- after another tag; IOB2 at B-.
  assert.deepEqual(entitiesOf(['New', 'York', 'and', 'Paris'], ['I-LOC', 'I-LOC', 'O', 'I-LOC'], 'LOC'), ['New York', 'Paris']);
  assert.deepEqual(entitiesOf(['A', 'B'], ['B-PER', 'B-PER'], 'PER'), ['A', 'B']);
  assert.throws(() => readGuTask(write('bad/test-NLI.tsv', 'h\nonly one field\n')), /test-NLI\.tsv: line 2: expected 4 tab-separated fields, got 1/);
  assert.throws(() => readTasks([dir, path.join(dir, 'test-NLI.tsv')]), /task "rte" is also in/);
});

test('scoring: the likeliest choice wins, greedy answers are scored by kind, and an edit-free run is the base model', { skip: !hasShared }, () => {
  const { model, tokenizer } = loadModel(tinyGpt2Dir);
  const tok = tokenizer!;
  const prompt = 'The capital of France is';
  const greedy = greedyText(model, null, tok)(tok.encode(prompt), 8);
  const firstToken = tok.decode([tok.encode(prompt + greedy).slice(tok.encode(prompt).length)[0]]);
  // The model's own next token is, by definition, its likeliest one-token continuation.
  const choices = [' zebra', firstToken, ' quantum'];
  assert.equal(bestChoice(prompt, choices, model, null, tok), 1);
  const tasks = parseTaskLines(
    lines(
      { task: 'choice', kind: 'choice', prompt, choices, answer: 1 },
      { task: 'choice', kind: 'choice', prompt, choices, answer: 0 },
      { task: 'exact', kind: 'exact', prompt, answers: [greedy.trimStart().split('\n')[0]], maxTokens: 8 },
      { task: 'rouge', kind: 'rouge', prompt, reference: 'zebra quantum', maxTokens: 8 },
      { task: 'entities', kind: 'entities', prompt, entityType: 'PER', entities: ['Nobody Here'], maxTokens: 8 },
    ),
    'scored.jsonl',
  );
  let progress = 0;
  const scores = scoreTasks(tasks, model, null, tok, () => progress++);
  assert.equal(progress, 5);
  const by = Object.fromEntries(scores.map((s) => [s.task, s.score]));
  assert.equal(by.choice, 0.5);
  assert.equal(by.exact, 1, 'its own greedy answer is an exact match');
  assert.ok(by.rouge >= 0 && by.rouge < 1);
  assert.ok(by.entities >= 0 && by.entities < 1);
});

test('bench-edit --tasks: every task on the base model (cached) and after each method, test retention and the Table 2 layout; a bad task file is refused before any model work', {
  skip: !hasShared,
}, () => {
  const cacheDir = path.join(tmp, 'cache');
  process.env.ELDER_CACHE_DIR = cacheDir;
  const taskFile = write(
    'run/tasks.jsonl',
    lines(
      { task: 'yesno', kind: 'choice', prompt: 'Is the sky blue? answer:', choices: [' yes', ' no'], answer: 0 },
      { task: 'yesno', kind: 'choice', prompt: 'Is fire cold? answer:', choices: [' yes', ' no'], answer: 1 },
      { task: 'capital', kind: 'exact', prompt: 'The capital of France is', answers: ['Paris'], maxTokens: 4 },
      { task: 'sum', kind: 'number', prompt: '2 + 2 =', answer: '4', maxTokens: 4 },
      { task: 'tldr', kind: 'rouge', prompt: 'A: hi\nB: hello\nTL;DR:', reference: 'A and B greet each other.', maxTokens: 8 },
      {
        task: 'names',
        kind: 'entities',
        prompt: 'Please identify Person Entity from the given text. Text: Peter met Mary. Entity:',
        entityType: 'PER',
        entities: ['Peter', 'Mary'],
        maxTokens: 8,
      },
    ),
  );
  const options = {
    modelDir: tinyGpt2Dir,
    dataFile: path.join(repoRoot, 'bench/data/edits-small.jsonl'),
    edits: 3,
    methods: ['lora' as const, 'ft-l' as const],
    seed: 1,
    outDir: path.join(tmp, 'run/out'),
    batchSize: 4,
    evalEvery: 4,
    settings: { lora: { lr: 1e-2, iterations: 3 }, 'ft-l': { lr: 1e-2, iterations: 3 } },
    localityTokens: 4,
    taskPaths: [taskFile],
  };
  const logged: string[] = [];
  const results = runBenchmark(options, (line) => logged.push(line));
  const names = ['yesno', 'capital', 'sum', 'tldr', 'names'];
  assert.deepEqual(Object.keys(results.base.tasks!), names);
  for (const m of results.methods) {
    assert.deepEqual(Object.keys(m.tasks!), names);
    for (const name of names) {
      const { before, after } = m.tasks![name];
      assert.equal(before, results.base.tasks![name]);
      assert.ok(after >= 0 && after <= 1, `${m.method} ${name}: ${after}`);
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    assert.equal(m.taskRetention!.base, mean(Object.values(results.base.tasks!)));
    assert.equal(m.taskRetention!.after, mean(names.map((n) => m.tasks![n].after)));
  }
  const report = fs.readFileSync(path.join(options.outDir, 'report.md'), 'utf8');
  assert.match(report, /^\| Test retention, general tasks \| yesno \| capital \| sum \| tldr \| names \| Average \|$/m);
  assert.match(report, /^\| base model \(no edit\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m);
  assert.match(report, /^\| ft-l \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|$/m);
  // The base model's scores are cached per model and tasks: a second run reads them.
  assert.equal(fs.readdirSync(path.join(cacheDir, 'tasks')).length, 1);
  const again = runBenchmark({ ...options, outDir: path.join(tmp, 'run/out2') }, (line) => logged.push(line));
  assert.ok(logged.some((line) => /^base model: task scores from .*tasks\/[0-9a-f]{16}-[0-9a-f]{16}\.json$/.test(line)));
  assert.deepEqual(again.base.tasks, results.base.tasks);
  // A bad line is refused before the model loads, and nothing is written.
  const bad = write('run/bad.jsonl', lines({ task: 'a', kind: 'choice', prompt: 'p', choices: ['x', 'y'], answer: 5 }));
  const badOut = path.join(tmp, 'run/bad-out');
  assert.throws(() => runBenchmark({ ...options, outDir: badOut, taskPaths: [bad] }), /bad\.jsonl: line 1: "answer" must index "choices" \(0 to 1\), got 5/);
  assert.equal(fs.existsSync(badOut), false);
});

test("elder-facts' general-task suite is what its builder writes, from facts no record edits, and every line reads as a task", () => {
  const table = readFactTable();
  const { records } = readDataset(path.join(repoRoot, 'bench/data/facts/counterfact.json'), 'counterfact');
  const facts = localityFactsOf(
    table,
    records.flatMap((r) => r.locality),
  );
  const edited = new Set(records.map((r) => `${r.relation}\u0000${r.subject}`));
  assert.ok(facts.length > 500, `${facts.length} never-edited facts`);
  assert.ok(
    facts.every((f) => !edited.has(`${f.relation}\u0000${f.subject}`)),
    'no suite fact is a record of the benchmark',
  );
  const built = buildGeneralTasks(table, facts, DEFAULT_GENERAL_TASK_OPTIONS);
  const file = path.join(repoRoot, 'bench/data/facts/general-tasks.jsonl');
  assert.equal(fs.readFileSync(file, 'utf8'), built.map((l) => `${JSON.stringify(l)}\n`).join(''), 'regenerate it with npm run facts:tasks');
  assert.deepEqual(
    readTasks([file]).map((t) => [t.name, t.kind]),
    [
      ['facts-qa', 'exact'],
      ['facts-choice', 'choice'],
      ['wordnet-category', 'choice'],
    ],
  );
});
