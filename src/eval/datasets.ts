/**
 * Editing benchmarks in their published formats, read into one record shape:
 * - ZsRE as MEND/ROME distribute it: `src`, `alt` (or `answers`), `rephrase`
 *   (a string, or a list in the lists-of-rephrasings variant), `loc`, `loc_ans`;
 * - COUNTERFACT as ROME distributes it: `requested_rewrite` {prompt with `{}`,
 *   subject, target_new.str, target_true.str}, `paraphrase_prompts`,
 *   `neighborhood_prompts`;
 * - elder's own JSONL edit lines (`id`, `prompt`, `target`, `rephrases`,
 *   `label`) with optional `locality: [{prompt, answer?}]`; ZsRE and
 *   COUNTERFACT records may carry the same `locality` list (elder's facts
 *   benchmark does), which then replaces `loc` / `neighborhood_prompts`.
 * Files may be a JSON array or JSON lines. Every problem names the record.
 */

import { EditFileError, editRecordProblems, readInputFile } from '../editors/edits-file.js';

export type DatasetFormat = 'zsre' | 'counterfact' | 'jsonl';
export const DATASET_FORMATS: readonly DatasetFormat[] = ['zsre', 'counterfact', 'jsonl'];

/** An unrelated prompt whose behaviour must not change; `answer` is the dataset's own answer where it has one. */
export interface LocalityPrompt {
  prompt: string;
  answer?: string;
}

export interface BenchRecord {
  id: string;
  prompt: string;
  target: string;
  rephrases: string[];
  locality: LocalityPrompt[];
  /** The relation edited, where the record names one (ZsRE `relation`, COUNTERFACT `relation_id`). */
  relation?: string;
  /** What the edit is about, where the record names it (ZsRE and elder JSONL `subject`, COUNTERFACT `requested_rewrite.subject`). */
  subject?: string;
  /** The answer before the edit, where the record names it (COUNTERFACT `target_true`): what causal tracing looks for. */
  trueTarget?: string;
  /** Prompts about the subject whose generations measure fluency (COUNTERFACT `generation_prompts`). */
  generationPrompts?: string[];
}

/** Reads a dataset file; the format is guessed from the first record when not given. */
export function readDataset(file: string, format?: DatasetFormat): { format: DatasetFormat; records: BenchRecord[] } {
  const raw = parseJsonOrLines(readInputFile(file), file);
  if (raw.length === 0) throw new EditFileError(`${file}: no records`);
  const chosen = format ?? guessFormat(raw[0], file);
  const parse = { zsre: parseZsre, counterfact: parseCounterfact, jsonl: parseElderLine }[chosen];
  return {
    format: chosen,
    records: raw.map((record, i) => {
      const where = `${file}: record ${i + 1}`;
      if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new EditFileError(`${where}: expected a JSON object`);
      return parse(record as Record<string, unknown>, where, i);
    }),
  };
}

function parseJsonOrLines(text: string, file: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown[];
    } catch (error) {
      throw new EditFileError(`${file}: not valid JSON (${(error as Error).message})`);
    }
  }
  const records: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line));
    } catch (error) {
      throw new EditFileError(`${file}:${i + 1}: not valid JSON (${(error as Error).message})`);
    }
  });
  return records;
}

function guessFormat(first: unknown, file: string): DatasetFormat {
  if (first === null || typeof first !== 'object' || Array.isArray(first))
    throw new EditFileError(`${file}: record 1 is not a JSON object, so the format cannot be told; pass --format zsre|counterfact|jsonl`);
  const record = first as Record<string, unknown>;
  if ('requested_rewrite' in record) return 'counterfact';
  if ('src' in record) return 'zsre';
  if ('prompt' in record && 'target' in record) return 'jsonl';
  throw new EditFileError(
    `${file}: cannot tell the format from the first record (keys: ${Object.keys(record).join(', ')}); pass --format zsre|counterfact|jsonl`,
  );
}

function text(record: Record<string, unknown>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value.trim() === '') throw new EditFileError(`${where}: "${key}" must be a non-empty string`);
  return value;
}

function textList(value: unknown, key: string, where: string): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((item) => typeof item !== 'string'))
    throw new EditFileError(`${where}: "${key}" must be a string or a list of strings`);
  return (list as string[]).filter((item) => item.trim() !== '');
}

function parseZsre(record: Record<string, unknown>, where: string, index: number): BenchRecord {
  const prompt = text(record, 'src', where);
  let target: string;
  if (typeof record.alt === 'string' && record.alt.trim() !== '') target = record.alt;
  else {
    const answers = textList(record.answers, 'answers', where);
    if (answers.length === 0) throw new EditFileError(`${where}: needs "alt" or a non-empty "answers"`);
    target = answers[0];
  }
  const locality: LocalityPrompt[] = explicitLocality(record, where) ?? [];
  if (record.locality === undefined && record.loc !== undefined) {
    const loc = text(record, 'loc', where).replace(/^nq question:\s*/, '');
    const answer = typeof record.loc_ans === 'string' ? record.loc_ans : undefined;
    locality.push(answer === undefined ? { prompt: loc } : { prompt: loc, answer });
  }
  return {
    id: typeof record.case_id === 'string' || typeof record.case_id === 'number' ? `zsre-${record.case_id}` : `zsre-${index + 1}`,
    prompt,
    target,
    rephrases: textList(record.rephrase, 'rephrase', where),
    locality,
    ...(typeof record.relation === 'string' ? { relation: record.relation } : {}),
    ...(typeof record.subject === 'string' && record.subject.trim() !== '' ? { subject: record.subject } : {}),
  };
}

function parseCounterfact(record: Record<string, unknown>, where: string, index: number): BenchRecord {
  const rewrite = record.requested_rewrite as Record<string, unknown> | undefined;
  if (rewrite === null || typeof rewrite !== 'object') throw new EditFileError(`${where}: "requested_rewrite" must be an object`);
  const template = text(rewrite, 'prompt', `${where} requested_rewrite`);
  const subject = text(rewrite, 'subject', `${where} requested_rewrite`);
  if (!template.includes('{}')) throw new EditFileError(`${where}: requested_rewrite.prompt has no "{}" for the subject`);
  const targetNew = rewrite.target_new as Record<string, unknown> | undefined;
  if (targetNew === null || typeof targetNew !== 'object') throw new EditFileError(`${where}: requested_rewrite.target_new must be an object with "str"`);
  const target = text(targetNew, 'str', `${where} requested_rewrite.target_new`);
  const targetTrue = (rewrite.target_true as Record<string, unknown> | undefined)?.str;
  return {
    id: record.case_id !== undefined ? `cf-${String(record.case_id)}` : `cf-${index + 1}`,
    prompt: template.replace('{}', subject),
    target,
    rephrases: textList(record.paraphrase_prompts, 'paraphrase_prompts', where),
    locality:
      explicitLocality(record, where) ??
      textList(record.neighborhood_prompts, 'neighborhood_prompts', where).map((prompt) =>
        typeof targetTrue === 'string' ? { prompt, answer: targetTrue } : { prompt },
      ),
    ...(typeof rewrite.relation_id === 'string' ? { relation: rewrite.relation_id } : {}),
    ...(typeof targetTrue === 'string' ? { trueTarget: targetTrue } : {}),
    ...(record.generation_prompts === undefined ? {} : { generationPrompts: textList(record.generation_prompts, 'generation_prompts', where) }),
    subject,
  };
}

/**
 * elder's extension of the ZsRE and COUNTERFACT schemas: `locality`, a list
 * of `{prompt, answer?}`, replaces `loc`/`neighborhood_prompts` when present,
 * so a record can carry several locality prompts each with its own answer.
 */
function explicitLocality(record: Record<string, unknown>, where: string): LocalityPrompt[] | undefined {
  if (record.locality === undefined) return undefined;
  if (!Array.isArray(record.locality)) throw new EditFileError(`${where}: "locality" must be a list of {prompt, answer?}`);
  return record.locality.map((item, j) => localityPrompt(item, `${where} locality ${j + 1}`));
}

function parseElderLine(record: Record<string, unknown>, where: string, index: number): BenchRecord {
  const problems = editRecordProblems(record, ['locality']);
  if (problems.length > 0) throw new EditFileError(`${where}: ${problems.join('; ')}`);
  const locality = record.locality ?? [];
  if (!Array.isArray(locality)) throw new EditFileError(`${where}: "locality" must be a list of {prompt, answer?}`);
  return {
    id: typeof record.id === 'string' ? record.id : `edit-${index + 1}`,
    prompt: record.prompt as string,
    target: record.target as string,
    rephrases: (record.rephrases as string[] | undefined) ?? [],
    locality: locality.map((item, j) => localityPrompt(item, `${where} locality ${j + 1}`)),
    ...(typeof record.subject === 'string' ? { subject: record.subject } : {}),
  };
}

function localityPrompt(item: unknown, where: string): LocalityPrompt {
  const entry = (item ?? {}) as Record<string, unknown>;
  const prompt = text(entry, 'prompt', where);
  return typeof entry.answer === 'string' ? { prompt, answer: entry.answer } : { prompt };
}

/** A locality file: JSON lines (or an array) of `{prompt, answer?}`. */
export function readLocalityFile(file: string): LocalityPrompt[] {
  return parseJsonOrLines(readInputFile(file), file).map((item, i) => localityPrompt(item, `${file}: record ${i + 1}`));
}
