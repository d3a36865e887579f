/**
 * The service's request schemas (used to validate bodies) and its OpenAPI 3.1
 * document (served at /openapi.json), built from the same objects.
 */
import { EDIT_REQUEST_SCHEMA } from '../editors/edits-file.js';
import { type JsonSchema, nonBlankString } from '../util/schema.js';
import { EDIT_STATUSES } from './store.js';

/** Request limits; each is checked before any work is done. */
export interface ServerLimits {
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Longest completion prompt, in characters (tokens are checked against the context as well). */
  maxPromptChars: number;
  /** Most tokens one completion may generate. */
  maxTokens: number;
  /** Most edit records in one POST. */
  maxEditsPerRequest: number;
  /** Time a client has to send its request headers, ms; a slower one gets 408 and the socket closes. */
  headersTimeoutMs: number;
  /** Time a client has to send its whole request, ms (a body trickled byte by byte included). */
  requestTimeoutMs: number;
  /** Open connections at most; further ones are closed as they arrive. */
  maxConnections: number;
  /**
   * Requests in progress at most (completions run one at a time, so under load
   * they wait); beyond it a request is answered 503 with Retry-After at once
   * rather than queued without bound.
   */
  maxPendingRequests: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxBodyBytes: 1 << 20,
  maxPromptChars: 4000,
  maxTokens: 256,
  maxEditsPerRequest: 1000,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 60_000,
  maxConnections: 512,
  maxPendingRequests: 128,
};

export function editsBodySchema(limits: ServerLimits): JsonSchema {
  return {
    description: 'One edit, or a list of edits trained in the order given.',
    oneOf: [EDIT_REQUEST_SCHEMA, { type: 'array', items: EDIT_REQUEST_SCHEMA, minItems: 1, maxItems: limits.maxEditsPerRequest }],
  };
}

export function completionRequestSchema(limits: ServerLimits): JsonSchema {
  return {
    type: 'object',
    required: ['prompt'],
    additionalProperties: false,
    properties: {
      prompt: nonBlankString('Text to continue.', limits.maxPromptChars),
      max_tokens: { type: 'integer', minimum: 1, maximum: limits.maxTokens, description: 'Tokens to generate at most (default 16).' },
      temperature: { type: 'number', minimum: 0, maximum: 5, description: '0 (default) decodes greedily.' },
      top_p: { type: 'number', minimum: 0.01, maximum: 1, description: 'Nucleus mass kept when sampling (default 1).' },
      seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, description: 'Sampling seed (default 0).' },
    },
    example: { prompt: 'The capital of France is', max_tokens: 8 },
  };
}

const EDIT_VIEW_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    label: { type: 'string' },
    prompt: { type: 'string' },
    target: { type: 'string' },
    subject: { type: 'string', description: 'What the edit is about, as written in its prompt (null: not given).' },
    status: { type: 'string', description: `One of ${EDIT_STATUSES.join(', ')}.` },
    reason: { type: 'string', description: 'Why it failed, or what start-up reconciliation did (null otherwise).' },
    submitted_at: { type: 'string' },
    started_at: { type: 'string', description: 'Start of the latest training attempt.' },
    finished_at: { type: 'string', description: 'End of training (applied or failed).' },
    retracted_at: { type: 'string' },
    queued_seconds: { type: 'number', description: 'From submission to the start of training.' },
    training_seconds: { type: 'number', description: 'Time in training (so far, while training).' },
    batch: { type: 'integer' },
    generation: { type: 'integer', description: 'The state generation that first held the edit.' },
    loss: { type: 'number' },
    iterations: { type: 'integer' },
    attempts: { type: 'integer' },
    holds: {
      type: 'boolean',
      description:
        'For an applied edit: whether, at the latest check, the edited model gave its whole target (teacher-forced argmax) and its greedy answer read as the target (it starts with the target, then ends or goes on without repeating it); the check runs after its batch and again on a sample of earlier edits after each later batch; null before the first check.',
    },
    answer: { type: 'string', description: 'The greedy answer (16 tokens at most, without the end-of-text token) that the latest check read; null before it.' },
    checked_at: { type: 'string', description: 'When that check ran.' },
    checked_generation: { type: 'integer', description: 'The weights generation that check ran on.' },
  },
};

const COMPLETION_SCHEMA: JsonSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    object: { type: 'string' },
    created: { type: 'integer' },
    model: { type: 'string' },
    text: { type: 'string', description: 'The continuation (also in choices[0].text).' },
    deferred: { type: 'boolean', description: 'True when the input ran the untouched base model.' },
    distance: { type: 'integer', description: 'Hamming distance from the input’s code to the nearest stored edit code (null with no edits).' },
    nearest_edit: { type: 'string' },
    matched_edit: {
      type: 'string',
      description: 'With the subject gate: the live edit whose gate query and subject the input matched (null: none, so it deferred).',
    },
    experts: { type: 'array', description: 'Experts chosen per edited layer, largest score first.' },
    blocks: { type: 'array', description: 'The edited blocks, in the order of `experts`.' },
    generation: { type: 'integer', description: 'The committed state generation that answered.' },
    choices: { type: 'array' },
    usage: { type: 'object' },
  },
};

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  properties: { error: { type: 'object', properties: { status: { type: 'integer' }, message: { type: 'string' } } } },
};

const json = (schema: JsonSchema) => ({ content: { 'application/json': { schema } } });
const errorResponse = (description: string) => ({ description, ...json(ERROR_SCHEMA) });

export function openApiDocument(limits: ServerLimits, version: string): Record<string, unknown> {
  const secured = [{ bearer: [] }];
  const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  return {
    openapi: '3.1.0',
    info: {
      title: 'elder',
      version,
      description:
        'Lifelong model editing with ELDER. Edits are stored durably, trained in the background one batch at a time in arrival order, and served by completions. Writes need a bearer token.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths: {
      '/v1/edits': {
        post: {
          summary: 'Submit edits',
          description: `Validates and stores the edits as queued before answering; they train in the background. Body: at most ${limits.maxBodyBytes} bytes and ${limits.maxEditsPerRequest} edits.`,
          security: secured,
          requestBody: { required: true, ...json(editsBodySchema(limits)) },
          responses: {
            '202': {
              description: 'Stored and queued.',
              ...json({ type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } }, edits: { type: 'array', items: EDIT_VIEW_SCHEMA } } }),
            },
            '400': errorResponse('Invalid body; the message names the field.'),
            '401': errorResponse('Missing or wrong bearer token.'),
            '403': errorResponse('The server is read-only.'),
            '409': errorResponse('An id is already used.'),
            '413': errorResponse('Body too large.'),
          },
        },
        get: {
          summary: 'List edits in arrival order',
          parameters: [
            { name: 'status', in: 'query', schema: { type: 'string', enum: [...EDIT_STATUSES] } },
            { name: 'after', in: 'query', schema: { type: 'integer' }, description: 'Only edits with seq greater than this.' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000 } },
          ],
          responses: {
            '200': {
              description: 'Edits and counts by status.',
              ...json({ type: 'object', properties: { edits: { type: 'array', items: EDIT_VIEW_SCHEMA }, counts: { type: 'object' } } }),
            },
          },
        },
      },
      '/v1/edits/{id}': {
        get: {
          summary: 'One edit, with its status and timings',
          parameters: [idParameter],
          responses: { '200': { description: 'The edit.', ...json(EDIT_VIEW_SCHEMA) }, '404': errorResponse('No such edit.') },
        },
        delete: {
          summary: 'Retract an edit',
          description:
            'An applied edit leaves the codebook (its inputs defer to the base model again); a queued one never trains; one in training is retracted when its batch commits.',
          security: secured,
          parameters: [idParameter],
          responses: {
            '200': { description: 'The retracted edit.', ...json(EDIT_VIEW_SCHEMA) },
            '401': errorResponse('Missing or wrong bearer token.'),
            '404': errorResponse('No such edit.'),
            '409': errorResponse('Already retracted.'),
          },
        },
      },
      '/v1/completions': {
        post: {
          summary: 'Complete a prompt with the edited model',
          description: 'Answers from the last committed state, also while edits train.',
          requestBody: { required: true, ...json(completionRequestSchema(limits)) },
          responses: {
            '200': { description: 'The completion and how ELDER routed it.', ...json(COMPLETION_SCHEMA) },
            '400': errorResponse('Invalid body; the message names the field.'),
            '413': errorResponse('Body too large.'),
          },
        },
      },
      '/v1/evaluation': {
        get: {
          summary: 'The latest elder bench-edit report given with --eval, if any',
          responses: { '200': { description: 'Summary rows and the plot address.' }, '404': errorResponse('No evaluation.') },
        },
      },
      '/healthz': {
        get: {
          summary: 'Liveness, state generation, queue and start-up reconciliation',
          responses: { '200': { description: 'Healthy.' }, '503': { description: 'Training stopped on an unexpected error.' } },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text/plain; version=0.0.4' } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}
