/** Health and Prometheus metrics. */

import { sendJson, sendText } from '../http.js';
import type { MetricFamily } from '../metrics.js';
import { EDIT_STATUSES } from '../store.js';
import type { ThreadMemory } from '../trainer.js';
import type { Route, RouteContext } from './route.js';

export function statusRoutes({ service, metrics }: RouteContext): Route[] {
  return [
    {
      method: 'GET',
      template: '/healthz',
      pattern: /^\/healthz$/,
      handle: (_q, response) => {
        const training = service.training;
        sendJson(response, service.trainingError === null ? 200 : 503, {
          status: service.trainingError === null ? 'ok' : 'training stopped',
          model: service.modelName,
          read_only: service.readOnly,
          generation: service.generation,
          codes: service.state.editor.liveEdits,
          edits: service.store?.counts() ?? null,
          training: training && {
            batch: training.batch,
            ids: training.ids,
            iteration: training.iteration,
            iterations: training.iterations,
            loss: training.loss,
            seconds: (Date.now() - training.startedAt) / 1000,
          },
          training_error: service.trainingError,
          reconciliation: service.reconciliation,
          uptime_seconds: (Date.now() - metrics.startedAt) / 1000,
        });
      },
    },
    {
      method: 'GET',
      template: '/metrics',
      pattern: /^\/metrics$/,
      handle: (_q, response) => {
        const counts = service.store?.counts();
        const totals = service.store?.trainingTotals();
        const text = metrics.render([
          {
            name: 'elder_edits',
            help: 'Edits in the store, by status.',
            type: 'gauge',
            samples: EDIT_STATUSES.map((status) => ({ labels: { status }, value: counts?.[status] ?? 0 })),
          },
          {
            name: 'elder_training_seconds_total',
            help: 'Seconds spent training batches (applied or failed), over the store’s life.',
            type: 'counter',
            samples: [{ value: totals?.seconds ?? 0 }],
          },
          {
            name: 'elder_training_batches_total',
            help: 'Training batches ended, by result.',
            type: 'counter',
            samples: Object.entries(totals?.batches ?? {}).map(([result, value]) => ({ labels: { result }, value })),
          },
          { name: 'elder_training_in_progress', help: '1 while a batch trains.', type: 'gauge', samples: [{ value: service.training ? 1 : 0 }] },
          {
            name: 'elder_state_generation',
            help: 'Committed generation of the ELDER state serving completions.',
            type: 'gauge',
            samples: [{ value: service.generation }],
          },
          {
            name: 'elder_applied_edits_holding',
            help: 'Applied edits by their latest check: held (the edited model gives the target), lost (it does not), unchecked.',
            type: 'gauge',
            samples: Object.entries(service.holdCounts()).map(([check, value]) => ({ labels: { check }, value })),
          },
          {
            name: 'elder_codebook_codes',
            help: 'Allocation codes of live (applied, unretracted) edits.',
            type: 'gauge',
            samples: [{ value: service.state.editor.liveEdits }],
          },
          ...processMemoryFamilies(service.trainingThreadMemory),
        ]);
        sendText(response, 200, text, 'text/plain; version=0.0.4; charset=utf-8');
      },
    },
  ];
}

/**
 * The process's memory as Prometheus' client libraries name it: resident
 * set (both threads), and the main thread's V8 heap and the memory outside
 * it (typed arrays: weights, activations); then the training thread's, as it
 * reported them after its latest job (absent before it starts). Where growth
 * shows, these say which part grows.
 */
function processMemoryFamilies(trainingThread: ThreadMemory | null): MetricFamily[] {
  const usage = process.memoryUsage();
  const gauge = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'gauge', samples: [{ value }] });
  return [
    gauge('process_resident_memory_bytes', 'Resident memory of the process, every thread.', usage.rss),
    gauge('nodejs_heap_size_used_bytes', "The main thread's V8 heap in use.", usage.heapUsed),
    gauge('nodejs_heap_size_total_bytes', "The main thread's V8 heap reserved.", usage.heapTotal),
    gauge('nodejs_external_memory_bytes', 'Memory held outside the V8 heaps by objects of the main thread (array buffers among them).', usage.external),
    gauge('nodejs_array_buffers_bytes', 'Array buffers of the main thread (and shared ones).', usage.arrayBuffers),
    ...(trainingThread === null
      ? []
      : [
          gauge('elder_training_thread_heap_size_used_bytes', "The training thread's V8 heap in use, after its latest job.", trainingThread.heapUsed),
          gauge('elder_training_thread_heap_size_total_bytes', "The training thread's V8 heap reserved, after its latest job.", trainingThread.heapTotal),
          gauge(
            'elder_training_thread_array_buffers_bytes',
            'Array buffers of the training thread (activation pool among them), after its latest job.',
            trainingThread.arrayBuffers,
          ),
        ]),
  ];
}
