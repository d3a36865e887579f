/**
 * Benchmark reports: results.json (everything), report.md (the paper's
 * Table 1 layout plus time and size per method) and SVG plots: the retention
 * curve of every method, and ELDER's code embedding. All files are written
 * atomically and only for a complete run.
 */
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { lineChart, scatterChart, type Series } from '../plot/svg.js';
import type { BenchResults } from './runner.js';

export const REPORT_FILES = { results: 'results.json', report: 'report.md', retention: 'reliability-vs-edits.svg', codes: 'code-embedding.svg' } as const;

export function writeReport(outDir: string, results: BenchResults): void {
  const write = (name: string, text: string) => writeFileAtomic(path.join(outDir, name), [Buffer.from(text)]);
  write(REPORT_FILES.retention, retentionChart(results));
  const embedded = results.methods.find((m) => m.codeEmbedding !== undefined && m.method === 'elder') ?? results.methods.find((m) => m.codeEmbedding !== undefined);
  if (embedded?.codeEmbedding !== undefined) write(REPORT_FILES.codes, codeChart(embedded.method, embedded.codeEmbedding));
  write(REPORT_FILES.report, markdownReport(results, embedded !== undefined));
  // results.json last: its presence marks a finished report.
  write(REPORT_FILES.results, JSON.stringify(results, null, 2) + '\n');
}

function retentionChart(results: BenchResults): string {
  const series: Series[] = results.methods.map((m) => ({ name: m.method, points: m.retention.map((p) => ({ x: p.edits, y: p.reliability })) }));
  return lineChart(series, { title: 'Reliability of all edits so far', xLabel: 'edits applied', yLabel: 'reliability', yRange: [0, 1] });
}

function codeChart(method: string, embedding: NonNullable<BenchResults['methods'][number]['codeEmbedding']>): string {
  const groups = [...new Set(embedding.points.map((p) => p.group))];
  const series: Series[] = groups.map((group) => ({ name: group, points: embedding.points.filter((p) => p.group === group).map((p) => ({ x: p.x, y: p.y })) }));
  return scatterChart(series, { title: `${method}: allocation codes (UMAP, Hamming)`, xLabel: 'UMAP 1', yLabel: 'UMAP 2' });
}

const pct = (value: number) => (Number.isNaN(value) ? '–' : (100 * value).toFixed(1));

export function markdownReport(results: BenchResults, hasCodePlot: boolean): string {
  const { data, settings } = results;
  const lines = [
    '# Lifelong editing benchmark',
    '',
    `Model \`${results.model.dir}\` (${results.model.architecture}, ${results.model.layers} layers, width ${results.model.width}, ${results.model.parameters.toLocaleString('en-US')} parameters).`,
    `Data \`${data.file}\` (${data.format}): ${data.records} records → ${data.editPrompts} edited prompts, ${data.heldOutPrompts} held-out rephrasings, ${data.localityPrompts} locality prompts${data.skippedWithoutRephrase > 0 ? ` (${data.skippedWithoutRephrase} records without a rephrasing skipped)` : ''}.`,
    `Stream in batches of ${settings.batchSize}; retention measured every ${settings.evalEvery} edits; seed ${settings.seed}; locality over ${settings.localityTokens} greedy tokens.`,
    `Machine: ${results.machine}.`,
    '',
    '| Method | Rel. | Gen. | Loc. | Avg. | Rel. (tokens) | Gen. (tokens) | s / edit | Added parameters |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| base model (no edit) | ${pct(results.base.reliability)} | ${pct(results.base.generalization)} | 100.0 | – | – | – | – | 0 |`,
  ];
  for (const m of results.methods) {
    const avg = [m.reliability, m.generalization, m.locality].filter((v) => !Number.isNaN(v));
    lines.push(
      `| ${m.method} | ${pct(m.reliability)} | ${pct(m.generalization)} | ${pct(m.locality)} | ${pct(avg.reduce((a, b) => a + b, 0) / avg.length)} | ${pct(m.reliabilityTokens)} | ${pct(m.generalizationTokens)} | ${m.secondsPerEdit.toFixed(2)} | ${m.addedParameters.toLocaleString('en-US')} |`,
    );
  }
  lines.push(
    '',
    'Rel. = edited prompts whose every target token is the argmax (teacher forcing); Gen. = the same on held-out rephrasings; Loc. = unrelated prompts whose greedy continuation equals the base model\'s. Percentages.',
    '',
    `Protocol: ${results.protocol}.`,
    '',
    `![Reliability of all edits so far](${REPORT_FILES.retention})`,
  );
  if (hasCodePlot) lines.push('', `![Allocation codes](${REPORT_FILES.codes})`);
  return lines.join('\n') + '\n';
}
