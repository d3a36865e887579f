/**
 * The eight general tasks of Gu et al. (2024), "Model Editing Can Hurt General
 * Abilities of Large Language Models" (github.com/JasonForJoy/Model-Editing-Hurt),
 * which ELDER's Table 2 reports, read from that repository's task-data files
 * in their own formats, with the prompts of its test-task-code scripts:
 *
 *   test-NLI.tsv                 RTE (index, sentence1, sentence2, label)       choice  True / False
 *   test-ClosedDomainQA.jsonl    BoolQ (passage, question, answer: boolean)     choice  yes / no
 *   test-SentimentAnalysis.tsv   SST-2 (sentence, label: 1 positive)            choice  positive / negative
 *   test-dialogue/dev_*.txt      MuTual (article, options ×4, answers: A–D)     choice  A–D
 *   test-NER.txt                 CoNLL-03 (word POS chunk tag; blank = end)     entities, one prompt per type
 *   test-OpenDomainQA.jsonl      Natural Questions (question, document, answer) exact
 *   test-reasoning.jsonl         GSM8K (question, answer "… #### n")            number
 *   test-summarization.json      SAMSum ([{dialogue, summary}])                 rouge
 *
 * Where elder departs from those scripts: the classification tasks are
 * scored by the log-likelihood of each choice, as lm-evaluation-harness
 * scores them, instead of by searching one generated token for the label
 * word; Natural Questions' prompt ends in " Answer:" (the script generates
 * past the question and splits its output there); CoNLL-03 is scored by
 * entity-level F1 over the listed entities, not by substring hits.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../util/errors.js';
import { jsonObject, type Task, type TaskExample } from './task-file.js';

/** The file names this reader knows, and the task each holds. */
export const GU_FILES: Readonly<Record<string, string>> = {
  'test-NLI.tsv': 'rte',
  'test-ClosedDomainQA.jsonl': 'boolq',
  'test-SentimentAnalysis.tsv': 'sst2',
  'test-dialogue': 'mutual',
  'test-NER.txt': 'conll03',
  'test-OpenDomainQA.jsonl': 'nq',
  'test-reasoning.jsonl': 'gsm8k',
  'test-summarization.json': 'samsum',
};

/** Whether `file` (a file, or MuTual's folder) is one of Gu et al.'s task files. */
export function isGuTaskFile(file: string): boolean {
  return path.basename(file) in GU_FILES;
}

/** The task in one of Gu et al.'s files (MuTual: its folder of dev_*.txt). */
export function readGuTask(file: string): Task {
  const base = path.basename(file);
  const name = GU_FILES[base];
  if (name === undefined) throw new InputError(`${file}: not one of Gu et al.'s task files (${Object.keys(GU_FILES).join(', ')})`);
  const examples = READERS[name](file);
  if (examples.length === 0) throw new InputError(`${file}: no examples`);
  const kind = examples[0].kind;
  return { name, kind, source: file, examples };
}

const READERS: Record<string, (file: string) => TaskExample[]> = {
  rte: (file) =>
    tsvRows(file, 4).map(({ fields: [, premise, hypothesis, label] }) => ({
      kind: 'choice',
      prompt: `${premise} entails the ${hypothesis}. True or False? answer:`,
      choices: [' True', ' False'],
      answer: label.trim().toLowerCase() === 'entailment' ? 0 : 1,
    })),
  boolq: (file) =>
    jsonLines(file).map(({ record, where }) => ({
      kind: 'choice',
      prompt: `Please answer the given question based on the passage. The answer should be exact 'yes' or 'no'. passage: ${text(record, 'passage', where)} question: ${text(record, 'question', where)}. answer:`,
      choices: [' yes', ' no'],
      answer: flag(record, 'answer', where) ? 0 : 1,
    })),
  sst2: (file) =>
    tsvRows(file, 2).map(({ fields: [sentence, label], where }) => {
      if (label.trim() !== '0' && label.trim() !== '1') throw new InputError(`${where}: label must be 0 or 1, got ${JSON.stringify(label)}`);
      return {
        kind: 'choice',
        prompt: `For each snippet of text,label the sentiment of the text as positive or negative.The answer should be exact 'positive' or 'negative'. text: ${sentence} answer:`,
        choices: [' positive', ' negative'],
        answer: label.trim() === '1' ? 0 : 1,
      };
    }),
  mutual: (dir) => {
    const files = fs.existsSync(dir) && fs.statSync(dir).isDirectory() ? fs.readdirSync(dir).filter((f) => /^dev_.*\.txt$/.test(f)) : [];
    if (files.length === 0) throw new InputError(`${dir}: expected MuTual's dev_*.txt files in this folder`);
    return files.sort(naturalOrder).map((f): TaskExample => {
      const where = path.join(dir, f);
      const record = jsonObject(fs.readFileSync(where, 'utf8'), where);
      const options = record.options;
      if (!Array.isArray(options) || options.length !== 4 || !options.every((o) => typeof o === 'string'))
        throw new InputError(`${where}: "options" must be 4 strings`);
      const answer = 'ABCD'.indexOf(text(record, 'answers', where).trim());
      if (answer < 0) throw new InputError(`${where}: "answers" must be A, B, C or D, got ${JSON.stringify(record.answers)}`);
      return {
        kind: 'choice',
        prompt: `Q: ${text(record, 'article', where)} Which choice is correct? Answer Chioces: (A)${options[0]}(B)${options[1]}(C)${options[2]}(D)${options[3]} A: Among A through D, the answer is`,
        choices: [' A', ' B', ' C', ' D'],
        answer,
      };
    });
  },
  conll03: (file) =>
    conllSentences(file).flatMap(({ words, tags }) => {
      const sentence = words.reduce((s, w) => (w === ',' || w === '.' ? s + w : `${s} ${w}`), '').slice(1);
      return ENTITY_TYPES.map(([type, label]) => ({
        kind: 'entities' as const,
        prompt: `Please identify ${label} Entity from the given text. Text: ${sentence} Entity:`,
        entityType: type,
        entities: entitiesOf(words, tags, type),
      }));
    }),
  nq: (file) =>
    jsonLines(file).map(({ record, where }) => {
      const document = record.document;
      const passage = Array.isArray(document) ? document[0] : document;
      if (typeof passage !== 'string') throw new InputError(`${where}: "document" must be a passage or a list of them`);
      const answers = record.answer;
      if (!Array.isArray(answers) || answers.length === 0 || !answers.every((a) => typeof a === 'string'))
        throw new InputError(`${where}: "answer" must be a list of strings`);
      return {
        kind: 'exact',
        prompt: `Refer to the passage below and answer the following question. Passage: ${passage} Question: ${text(record, 'question', where)} Answer:`,
        answers,
      };
    }),
  gsm8k: (file) =>
    jsonLines(file).map(({ record, where }) => {
      const [hint, answer] = text(record, 'answer', where).split('#### ');
      if (answer === undefined || !/\d/.test(answer)) throw new InputError(`${where}: "answer" must end with "#### <number>"`);
      return {
        kind: 'number',
        prompt: `Q: ${text(record, 'question', where)} A:Let's think step by step. ${hint} Therefore, the answer (arabic numerals) is:`,
        answer: answer.trim(),
      };
    }),
  samsum: (file) => {
    const corpus = JSON.parse(readText(file)) as unknown;
    if (!Array.isArray(corpus)) throw new InputError(`${file}: expected a JSON list of {dialogue, summary}`);
    return corpus.map((record, i): TaskExample => {
      const where = `${file}: record ${i + 1}`;
      if (record === null || typeof record !== 'object') throw new InputError(`${where}: expected an object`);
      const r = record as Record<string, unknown>;
      return { kind: 'rouge', prompt: `${text(r, 'dialogue', where)}\nTL;DR:`, reference: text(r, 'summary', where) };
    });
  },
};

/** CoNLL-03's types, and the word Gu et al.'s prompt names each by. */
const ENTITY_TYPES: ReadonlyArray<readonly [string, string]> = [
  ['PER', 'Person'],
  ['LOC', 'Location'],
  ['ORG', 'Organization'],
  ['MISC', 'Miscellaneous'],
];

/** The entities of `type` in a tagged sentence (IOB1 or IOB2: an entity starts at B-, or at I- after another tag). */
export function entitiesOf(words: readonly string[], tags: readonly string[], type: string): string[] {
  const entities: string[] = [];
  let current: string[] = [];
  tags.forEach((tag, i) => {
    const inside = tag === `I-${type}` && current.length > 0;
    if (inside) {
      current.push(words[i]);
      return;
    }
    if (current.length > 0) entities.push(current.join(' '));
    current = tag === `B-${type}` || tag === `I-${type}` ? [words[i]] : [];
  });
  if (current.length > 0) entities.push(current.join(' '));
  return entities;
}

function conllSentences(file: string): Array<{ words: string[]; tags: string[] }> {
  const sentences: Array<{ words: string[]; tags: string[] }> = [];
  let words: string[] = [];
  let tags: string[] = [];
  const flush = () => {
    if (words.length > 0) sentences.push({ words, tags });
    words = [];
    tags = [];
  };
  readText(file)
    .split('\n')
    .forEach((line, i) => {
      const fields = line.trim().split(/\s+/);
      if (line.trim() === '' || fields[0] === '-DOCSTART-') {
        flush();
        return;
      }
      if (fields.length !== 4) throw new InputError(`${file}: line ${i + 1}: expected "word POS chunk tag", got ${JSON.stringify(line)}`);
      words.push(fields[0]);
      tags.push(fields[3]);
    });
  flush();
  return sentences;
}

function tsvRows(file: string, columns: number): Array<{ fields: string[]; where: string }> {
  const lines = readText(file).split('\n');
  // The first line names the columns.
  return lines.slice(1).flatMap((line, i) => {
    if (line.trim() === '') return [];
    const where = `${file}: line ${i + 2}`;
    const fields = line.split('\t');
    if (fields.length < columns) throw new InputError(`${where}: expected ${columns} tab-separated fields, got ${fields.length}`);
    return [{ fields, where }];
  });
}

function jsonLines(file: string): Array<{ record: Record<string, unknown>; where: string }> {
  return readText(file)
    .split('\n')
    .flatMap((line, i) => (line.trim() === '' ? [] : [{ record: jsonObject(line, `${file}: line ${i + 1}`), where: `${file}: line ${i + 1}` }]));
}

function text(record: Record<string, unknown>, field: string, where: string): string {
  const value = record[field];
  if (typeof value !== 'string') throw new InputError(`${where}: "${field}" must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function flag(record: Record<string, unknown>, field: string, where: string): boolean {
  const value = record[field];
  if (typeof value !== 'boolean') throw new InputError(`${where}: "${field}" must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(`${file}: cannot read (${(error as Error).message})`);
  }
}

function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
