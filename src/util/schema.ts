/**
 * The subset of JSON Schema elder's inputs use, and a validator whose messages
 * name the offending field. The same schema objects are published in the
 * service's OpenAPI document, so what is documented is what is checked.
 */

export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  additionalProperties?: boolean;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  /** A string must contain a non-whitespace character when this is `\\S`. */
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  oneOf?: readonly JsonSchema[];
  example?: unknown;
}

const NON_BLANK = '\\S';

/** A schema for a string holding at least one non-whitespace character. */
export function nonBlankString(description: string, maxLength?: number): JsonSchema {
  return { type: 'string', pattern: NON_BLANK, description, ...(maxLength === undefined ? {} : { maxLength }) };
}

function describe(schema: JsonSchema, plural = false): string {
  const s = plural ? 's' : '';
  switch (schema.type) {
    case 'string':
      return schema.pattern === NON_BLANK ? `non-empty string${s}` : `string${s}`;
    case 'integer':
    case 'number': {
      const noun = schema.type === 'integer' ? (plural ? 'integers' : 'an integer') : plural ? 'numbers' : 'a number';
      const range =
        schema.minimum !== undefined && schema.maximum !== undefined
          ? ` in [${schema.minimum}, ${schema.maximum}]`
          : schema.minimum !== undefined
            ? ` ≥ ${schema.minimum}`
            : '';
      return `${noun}${range}`;
    }
    case 'array':
      return schema.items ? `list${s} of ${describe(schema.items, true)}` : `list${s}`;
    case 'object':
      return plural ? 'JSON objects' : 'a JSON object';
    case 'boolean':
      return plural ? 'booleans' : 'true or false';
    default:
      return 'value';
  }
}

function article(text: string): string {
  return /^(an? |true)/.test(text) ? text : `a ${text}`;
}

/**
 * What is wrong with `value` under `schema` (empty when nothing). `where` names
 * the value in messages, e.g. `"prompt"`; nested fields extend it.
 */
export function schemaProblems(schema: JsonSchema, value: unknown, where = 'the value'): string[] {
  if (schema.oneOf) {
    const attempts = schema.oneOf.map((option) => schemaProblems(option, value, where));
    if (attempts.some((problems) => problems.length === 0)) return [];
    // Report against the alternative whose type matches, if one does.
    const typed = schema.oneOf.findIndex((option) => typeMatches(option, value));
    return typed >= 0 ? attempts[typed] : [`${where} must be ${schema.oneOf.map((o) => article(describe(o))).join(' or ')}`];
  }
  if (!typeMatches(schema, value)) return [`${where} must be ${article(describe(schema))}`];
  switch (schema.type) {
    case 'string': {
      const text = value as string;
      if (schema.pattern === NON_BLANK && text.trim() === '') return [`${where} must be a non-empty string`];
      if (schema.minLength !== undefined && text.length < schema.minLength) return [`${where} must be at least ${schema.minLength} characters`];
      if (schema.maxLength !== undefined && text.length > schema.maxLength)
        return [`${where} must be at most ${schema.maxLength} characters (got ${text.length})`];
      return [];
    }
    case 'integer':
    case 'number': {
      const number = value as number;
      if ((schema.minimum !== undefined && number < schema.minimum) || (schema.maximum !== undefined && number > schema.maximum))
        return [`${where} must be ${describe(schema)}, got ${number}`];
      return [];
    }
    case 'array': {
      const list = value as unknown[];
      if (schema.minItems !== undefined && list.length < schema.minItems)
        return [`${where} must hold at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`];
      if (schema.maxItems !== undefined && list.length > schema.maxItems) return [`${where} may hold at most ${schema.maxItems} items (got ${list.length})`];
      if (schema.items === undefined) return [];
      const items = schema.items;
      // Lists of scalars are described as a whole; lists of objects per item.
      if (items.type !== 'object')
        return list.every((item) => schemaProblems(items, item).length === 0) ? [] : [`${where} must be ${article(describe(schema))}`];
      return list.flatMap((item, i) => schemaProblems(items, item, `${where}[${i}]`));
    }
    case 'object': {
      const record = value as Record<string, unknown>;
      const problems: string[] = [];
      const properties = schema.properties ?? {};
      // Top-level fields are quoted ("prompt"); nested ones extend the path (body[2].prompt).
      const topLevel = where === 'the value';
      const field = (key: string) => (topLevel ? `"${key}"` : `${where}.${key}`);
      if (schema.additionalProperties === false) {
        for (const key of Object.keys(record)) if (!(key in properties)) problems.push(`${topLevel ? '' : `${where}: `}unknown field "${key}"`);
      }
      for (const key of schema.required ?? []) if (record[key] === undefined) problems.push(`${field(key)} is required`);
      for (const [key, property] of Object.entries(properties)) {
        if (record[key] === undefined) continue;
        problems.push(...schemaProblems(property, record[key], field(key)));
      }
      return problems;
    }
    default:
      return [];
  }
}

function typeMatches(schema: JsonSchema, value: unknown): boolean {
  switch (schema.type) {
    case undefined:
      return true;
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    default:
      return typeof value === schema.type;
  }
}
