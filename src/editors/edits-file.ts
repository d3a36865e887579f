/**
 * Reading an edits file (JSONL, one {@link EditRequest} per line). Every line
 * is validated before anything is returned; all problems are reported
 * together, each with its line number.
 */
import fs from 'node:fs';
import { ElderError, quote } from '../util/errors.js';
import { type JsonSchema, nonBlankString, schemaProblems } from '../util/schema.js';
import type { EditRequest } from './edit.js';

/** An edits file (or benchmark file) that fails validation; nothing from it is applied. */
export class EditFileError extends ElderError {}

/** One edit record: the schema shared by edits files, the service (and its OpenAPI document) and elder's benchmark JSONL. */
export const EDIT_REQUEST_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'One edit: after `prompt` the model should answer `target`.',
  required: ['prompt', 'target'],
  additionalProperties: false,
  properties: {
    id: nonBlankString('Unique id (default: assigned, e.g. edit-7). Rephrases become `id#1`, `id#2`, …'),
    prompt: nonBlankString('The input whose continuation is edited.'),
    target: nonBlankString('The continuation the edited model should produce (a leading space is added when neither side has one).'),
    rephrases: {
      type: 'array',
      items: nonBlankString('Another phrasing of the prompt.'),
      description: 'Further prompts edited with the same target and label.',
    },
    label: nonBlankString('Edits with the same label share one pre-assigned expert allocation (default: the id).'),
    subject: nonBlankString(
      "What the edit is about, as written in the prompt (e.g. France). ELDER's subject gate applies the edit only to inputs that mention it.",
    ),
  },
  example: { id: 'capital-of-france', prompt: 'The capital of France is', target: 'Lyon', rephrases: ["France's capital city is"], subject: 'France' },
};

/**
 * What is wrong with one edit record (empty when nothing); benchmark data may
 * allow `extraKeys` beside the edit's own.
 */
export function editRecordProblems(record: Record<string, unknown>, extraKeys: readonly string[] = []): string[] {
  const schema =
    extraKeys.length === 0
      ? EDIT_REQUEST_SCHEMA
      : { ...EDIT_REQUEST_SCHEMA, properties: { ...EDIT_REQUEST_SCHEMA.properties, ...Object.fromEntries(extraKeys.map((key) => [key, {}])) } };
  const problems = schemaProblems(schema, record);
  if (problems.length === 0 && typeof record.subject === 'string' && typeof record.prompt === 'string' && !record.prompt.includes(record.subject)) {
    problems.push(`subject ${quote(record.subject)} does not occur in the prompt`);
  }
  return problems;
}

export function parseEditsJsonl(text: string, source: string): EditRequest[] {
  const problems: string[] = [];
  const requests: EditRequest[] = [];
  const ids = new Map<string, number>();
  text.split('\n').forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      problems.push(`line ${lineNo}: not valid JSON (${(error as Error).message})`);
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`line ${lineNo}: expected a JSON object`);
      return;
    }
    const record = value as Record<string, unknown>;
    const lineProblems = editRecordProblems(record);
    if (typeof record.id === 'string') {
      if (ids.has(record.id)) lineProblems.push(`id ${quote(record.id)} repeats line ${ids.get(record.id)}`);
      else ids.set(record.id, lineNo);
    }
    if (lineProblems.length > 0) {
      problems.push(`line ${lineNo}: ${lineProblems.join('; ')}`);
      return;
    }
    requests.push(record as unknown as EditRequest);
  });
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ');
    const more = problems.length > 20 ? `\n  … and ${problems.length - 20} more` : '';
    throw new EditFileError(`${source}: ${problems.length} invalid line${problems.length > 1 ? 's' : ''}, nothing applied:\n  ${shown}${more}`);
  }
  if (requests.length === 0) throw new EditFileError(`${source}: no edits in the file`);
  return requests;
}

/** The text of an input data file (edits, datasets, locality prompts); a missing or unreadable one is an EditFileError naming it. */
export function readInputFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new EditFileError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message}`);
  }
}

export function readEditsFile(file: string): EditRequest[] {
  return parseEditsJsonl(readInputFile(file), file);
}
