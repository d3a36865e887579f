/** The report of an `elder bench-edit` run (`elder serve --eval DIR`), for the page. */
import fs from 'node:fs';
import path from 'node:path';
import { REPORT_FILES } from '../../eval/report.js';
import type { BenchResults } from '../../eval/results.js';
import { HttpError, sendJson, sendText } from '../http.js';
import type { ServerOptions } from '../options.js';
import type { Route, RouteContext } from './route.js';

const evaluation = (options: ServerOptions): { results: BenchResults; plot: string | null } | null => {
  if (options.evalDir === undefined) return null;
  const resultsFile = path.join(options.evalDir, REPORT_FILES.results);
  if (!fs.existsSync(resultsFile)) return null;
  const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8')) as BenchResults;
  const plot = path.join(options.evalDir, REPORT_FILES.retention);
  return { results, plot: fs.existsSync(plot) ? plot : null };
};

export function evaluationRoutes({ options }: RouteContext): Route[] {
  return [
    {
      method: 'GET',
      template: '/v1/evaluation',
      pattern: /^\/v1\/evaluation$/,
      handle: (_q, response) => {
        const found = evaluation(options);
        if (found === null)
          throw new HttpError(
            404,
            options.evalDir === undefined
              ? 'no evaluation: start the server with --eval DIR (an elder bench-edit output folder)'
              : `no evaluation in ${options.evalDir} yet`,
          );
        const { results, plot } = found;
        sendJson(response, 200, {
          created_at: results.createdAt,
          data: results.data,
          base: results.base,
          methods: results.methods.map((m) => ({
            method: m.method,
            edits: m.editsApplied,
            reliability: m.reliability,
            generalization: m.generalization,
            locality: m.locality,
            // Edited prompts whose greedy answer reads as the target (null in reports made before it was measured).
            answer_rate: m.generation?.answerRate ?? null,
            seconds_per_edit: m.secondsPerEdit,
          })),
          plot: plot === null ? null : '/v1/evaluation/reliability-vs-edits.svg',
        });
      },
    },
    {
      method: 'GET',
      template: '/v1/evaluation/reliability-vs-edits.svg',
      pattern: /^\/v1\/evaluation\/reliability-vs-edits\.svg$/,
      handle: (_q, response) => {
        const plot = evaluation(options)?.plot ?? null;
        if (plot === null) throw new HttpError(404, 'no reliability plot');
        sendText(response, 200, fs.readFileSync(plot, 'utf8'), 'image/svg+xml', { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
      },
    },
  ];
}
