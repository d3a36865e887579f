/**
 * English training text that Debian ships: WordNet 3.0 glosses and usage
 * examples (`wordnet-base`) and the classic fortune cookies (`fortunes-min`).
 * Both are free to redistribute, small enough for CPU training, and written in
 * plain sentences, which is what a tiny model can learn something from.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { debianVersion } from '../util/debian.js';
import { UsageError } from '../util/errors.js';

/** Where each source lives and which Debian package installs it. */
export const CORPUS_SOURCES = [
  {
    package: 'wordnet-base',
    files: ['data.noun', 'data.verb', 'data.adj', 'data.adv'].map((name) => `/usr/share/wordnet/${name}`),
    parse: parseWordnetData,
  },
  {
    package: 'fortunes-min',
    files: ['fortunes', 'literature', 'riddles'].map((name) => `/usr/share/games/fortunes/${name}`),
    parse: parseFortunes,
  },
] as const;

export interface CorpusSourceRecord {
  package: string;
  version: string;
  files: Array<{ path: string; bytes: number }>;
  documents: number;
}

export interface Corpus {
  /** One document per synset or fortune, in file order. */
  documents: string[];
  /** Exactly what was read, for the model card. */
  sources: CorpusSourceRecord[];
}

/**
 * Reads the corpus, installing the packages with apt-get first when they are
 * missing and `install` is true (root only); otherwise a missing package is a
 * UsageError naming the command that installs it.
 */
export function loadDebianCorpus({ install = true } = {}): Corpus {
  const missing = CORPUS_SOURCES.filter((source) => source.files.some((file) => !fs.existsSync(file))).map((source) => source.package);
  if (missing.length > 0) {
    if (!install || process.getuid?.() !== 0) {
      throw new UsageError(`training text not found; install it with: apt-get install -y ${missing.join(' ')}`);
    }
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const documents: string[] = [];
  const sources: CorpusSourceRecord[] = [];
  for (const source of CORPUS_SOURCES) {
    const before = documents.length;
    const files = source.files.map((file) => {
      const text = fs.readFileSync(file, 'utf8');
      for (const doc of source.parse(text, path.basename(file))) documents.push(doc);
      return { path: file, bytes: Buffer.byteLength(text) };
    });
    sources.push({ package: source.package, version: debianVersion(source.package), files, documents: documents.length - before });
  }
  return { documents, sources };
}

const ARTICLE_START = /^(a|an|the|any|one|something|someone|a person|a kind)\b/i;

/**
 * A WordNet `data.*` file → one short paragraph per synset: the definition as
 * a sentence ("A disaster is an act that has disastrous consequences.") and
 * its quoted usage examples. The license header (lines starting with spaces)
 * is skipped.
 */
export function parseWordnetData(text: string, fileName: string): string[] {
  const pos = fileName.replace(/^data\./, '');
  const documents: string[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0 || line.startsWith(' ')) continue;
    const bar = line.indexOf(' | ');
    if (bar < 0) continue;
    const fields = line.slice(0, bar).split(' ');
    const wordCount = parseInt(fields[3], 16);
    if (!Number.isFinite(wordCount) || wordCount < 1) continue;
    const lemma = cleanLemma(fields[4]);
    const [definition, ...examples] = line
      .slice(bar + 3)
      .trim()
      .split(/;\s*/)
      .map((part) => part.trim())
      .filter((part) => part.length > 0);
    if (definition === undefined || definition.startsWith('"')) continue;
    const sentences = [definitionSentence(lemma, definition, pos)];
    for (const example of examples) {
      const quoted = /^"(.+?)"/.exec(example);
      if (quoted !== null) sentences.push(sentence(quoted[1]));
    }
    documents.push(sentences.join(' '));
  }
  return documents;
}

function cleanLemma(raw: string): string {
  // Adjective lemmas carry a syntactic marker such as "(p)"; multiword lemmas use underscores.
  return raw.replace(/\([a-z]+\)$/, '').replace(/_/g, ' ');
}

function definitionSentence(lemma: string, definition: string, pos: string): string {
  if (pos === 'noun' && ARTICLE_START.test(definition)) return sentence(`${capitalise(articleFor(lemma))}${lemma} is ${definition}`);
  if (pos === 'verb') return sentence(`To ${lemma} is to ${definition}`);
  return sentence(`${capitalise(lemma)}: ${definition}`);
}

function articleFor(lemma: string): string {
  if (/^[A-Z]/.test(lemma)) return '';
  return /^[aeiou]/i.test(lemma) ? 'an ' : 'a ';
}

function capitalise(text: string): string {
  return text.length === 0 ? text : text[0].toUpperCase() + text.slice(1);
}

function sentence(text: string): string {
  const trimmed = capitalise(text.trim());
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** A fortune file: entries separated by lines holding a single `%`; whitespace runs collapse. */
export function parseFortunes(text: string): string[] {
  return text
    .split(/\n%\n/)
    .map((entry) => entry.replace(/\s+/g, ' ').trim())
    .filter((entry) => entry.length > 0 && entry !== '%');
}
