/** The edits API: list, submit, read and retract. */
import type { EditRequest } from '../../editors/edit.js';
import { HttpError, readJsonBody, sendJson } from '../http.js';
import { editsBodySchema } from '../openapi.js';
import type { EditCheck } from '../service.js';
import { EDIT_STATUSES, type EditStatus, type StoredEdit } from '../store.js';
import { type Route, type RouteContext, validated } from './route.js';

/**
 * A stored edit as the API shows it (snake_case, with durations), with its
 * latest holds check from the state: `holds` is null until checked, so an
 * applied edit that does not give its target is never shown as simply applied.
 */
export function editView(edit: StoredEdit, check: EditCheck, now = Date.now()): Record<string, unknown> {
  const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
  const started = ms(edit.startedAt);
  const finished = ms(edit.finishedAt);
  return {
    seq: edit.seq,
    id: edit.id,
    label: edit.label,
    prompt: edit.prompt,
    target: edit.target,
    subject: edit.subject,
    status: edit.status,
    reason: edit.reason,
    submitted_at: edit.submittedAt,
    started_at: edit.startedAt,
    finished_at: edit.finishedAt,
    retracted_at: edit.retractedAt,
    queued_seconds: started === null ? null : (started - ms(edit.submittedAt)!) / 1000,
    training_seconds: started === null ? null : ((finished ?? (edit.status === 'training' ? now : started)) - started) / 1000,
    batch: edit.batch,
    generation: edit.generation,
    loss: edit.loss,
    iterations: edit.iterations,
    attempts: edit.attempts,
    holds: edit.status === 'applied' ? (check.holds ?? null) : null,
    answer: edit.status === 'applied' ? (check.answer ?? null) : null,
    checked_at: edit.status === 'applied' ? (check.checkedAt ?? null) : null,
    checked_generation: edit.status === 'applied' ? (check.checkedGeneration ?? null) : null,
  };
}

export function editRoutes({ service, limits, requireWriter }: RouteContext): Route[] {
  const editsSchema = editsBodySchema(limits);
  return [
    {
      method: 'GET',
      template: '/v1/edits',
      pattern: /^\/v1\/edits$/,
      handle: (_q, response, _p, url) => {
        const status = url.searchParams.get('status');
        if (status !== null && !(EDIT_STATUSES as readonly string[]).includes(status))
          throw new HttpError(400, `query "status" must be one of ${EDIT_STATUSES.join(', ')}`);
        const integer = (name: string, min: number, max: number) => {
          const raw = url.searchParams.get(name);
          if (raw === null) return undefined;
          const value = Number(raw);
          if (!Number.isInteger(value) || value < min || value > max) throw new HttpError(400, `query "${name}" must be an integer in [${min}, ${max}]`);
          return value;
        };
        const limit = integer('limit', 1, 10_000);
        const after = integer('after', 0, Number.MAX_SAFE_INTEGER);
        const edits = service.store?.list({ status: (status ?? undefined) as EditStatus | undefined, limit, after }) ?? [];
        const now = Date.now();
        sendJson(response, 200, { edits: edits.map((edit) => editView(edit, service.holdsOf(edit.id), now)), counts: service.store?.counts() ?? null });
      },
    },
    {
      method: 'POST',
      template: '/v1/edits',
      pattern: /^\/v1\/edits$/,
      handle: async (request, response) => {
        requireWriter(request);
        const body = validated<EditRequest | EditRequest[]>(editsSchema, await readJsonBody(request, limits.maxBodyBytes));
        const stored = service.submit(Array.isArray(body) ? body : [body]);
        const now = Date.now();
        sendJson(response, 202, { ids: stored.map((e) => e.id), edits: stored.map((e) => editView(e, service.holdsOf(e.id), now)) });
      },
    },
    {
      method: 'GET',
      template: '/v1/edits/{id}',
      pattern: /^\/v1\/edits\/([^/]+)$/,
      handle: (_q, response, [id]) => sendJson(response, 200, editView(service.get(id), service.holdsOf(id))),
    },
    {
      method: 'DELETE',
      template: '/v1/edits/{id}',
      pattern: /^\/v1\/edits\/([^/]+)$/,
      handle: (request, response, [id]) => {
        requireWriter(request);
        sendJson(response, 200, editView(service.retract(id), service.holdsOf(id)));
      },
    },
  ];
}
