/**
 * Benchmark reports: results.json (everything), report.md (the paper's
 * Table 1 layout plus time and size per method) and SVG plots: the retention
 * curve of every method, and ELDER's code embedding. All files are written
 * atomically and only for a complete run.
 */
import path from 'node:path';
import { lineChart, type Series, scatterChart } from '../plot/svg.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { type BenchResults, EARLY_RECORDS, GENERATION_TOKENS } from './results.js';

export const REPORT_FILES = {
  results: 'results.json',
  report: 'report.md',
  retention: 'reliability-vs-edits.svg',
  early: 'early-edits-retention.svg',
  codes: 'code-embedding.svg',
  distances: 'code-distances.svg',
  gate: 'gate-tradeoff.svg',
} as const;

export function writeReport(outDir: string, results: BenchResults): void {
  const write = (name: string, text: string) => writeFileAtomic(path.join(outDir, name), [Buffer.from(text)]);
  write(REPORT_FILES.retention, retentionChart(results));
  write(REPORT_FILES.early, earlyChart(results));
  // Code distances of every method that routes by codes; the embedding, of the first one (in the run's order).
  const coded = results.methods.flatMap((m) => (m.codeDistances === undefined ? [] : [{ method: m.method, distances: m.codeDistances }]));
  if (coded.length > 0) write(REPORT_FILES.distances, distanceChart(coded));
  const embedded = results.methods.find((m) => m.codeEmbedding !== undefined);
  if (embedded?.codeEmbedding !== undefined) write(REPORT_FILES.codes, codeChart(embedded.method, embedded.codeEmbedding));
  const swept = results.methods.find((m) => m.gateSweep !== undefined);
  if (swept?.gateSweep !== undefined) write(REPORT_FILES.gate, gateChart(swept.method, swept.gateSweep, results.base.uneditedFacts));
  write(REPORT_FILES.report, markdownReport(results, embedded !== undefined));
  // results.json last: its presence marks a finished report.
  write(REPORT_FILES.results, `${JSON.stringify(results, null, 2)}\n`);
}

function retentionChart(results: BenchResults): string {
  const series: Series[] = results.methods.map((m) => ({ name: m.method, points: m.retention.map((p) => ({ x: p.edits, y: p.reliability })) }));
  return lineChart(series, { title: 'Reliability of all edits so far', xLabel: 'edits applied', yLabel: 'reliability', yRange: [0, 1] });
}

function earlyChart(results: BenchResults): string {
  const series: Series[] = results.methods.map((m) => ({
    name: m.method,
    points: m.retention.filter((p) => !Number.isNaN(p.early)).map((p) => ({ x: p.edits, y: p.early })),
  }));
  return lineChart(series, {
    title: `Reliability of the first ${EARLY_RECORDS} records' edits as the stream goes on`,
    xLabel: 'edits applied',
    yLabel: 'reliability',
    yRange: [0, 1],
  });
}

type CodeDistances = NonNullable<BenchResults['methods'][number]['codeDistances']>;

/**
 * Share of prompts at each nearest-code distance, per method: held-out
 * rephrasings should sit below ε, unrelated prompts at or above it (one
 * vertical line per ε, naming the methods that use it).
 */
export function distanceChart(methods: ReadonlyArray<{ method: string; distances: CodeDistances }>): string {
  const finite = methods.flatMap(({ distances }) => [...distances.heldOut, ...distances.unrelated].filter((d) => Number.isFinite(d)));
  const max = Math.max(...methods.map(({ distances }) => distances.epsilon), ...finite);
  const histogram = (values: number[]) =>
    Array.from({ length: max + 1 }, (_, d) => ({ x: d, y: values.length === 0 ? 0 : values.filter((v) => v === d).length / values.length }));
  const prefix = (method: string) => (methods.length === 1 ? '' : `${method}: `);
  const series: Series[] = methods.flatMap(({ method, distances }) => [
    { name: `${prefix(method)}held-out (${distances.heldOut.length})`, points: histogram(distances.heldOut) },
    { name: `${prefix(method)}unrelated (${distances.unrelated.length})`, points: histogram(distances.unrelated) },
  ]);
  // At or beyond ε the base model answers.
  for (const epsilon of [...new Set(methods.map(({ distances }) => distances.epsilon))]) {
    const users = methods.filter(({ distances }) => distances.epsilon === epsilon).map(({ method }) => method);
    series.push({
      name: methods.length === 1 ? `ε = ${epsilon}` : `ε = ${epsilon} (${users.join(', ')})`,
      points: [
        { x: epsilon, y: 0 },
        { x: epsilon, y: 1 },
      ],
    });
  }
  return lineChart(series, {
    title: methods.length === 1 ? `${methods[0].method}: distance to the nearest stored code` : 'Distance to the nearest stored code',
    xLabel: 'Hamming distance (bits)',
    yLabel: 'share of prompts',
    yRange: [0, 1],
  });
}

/** What moving the gate radius does on the same trained edits: rephrasings admitted against other facts and prompts disturbed. */
function gateChart(method: string, sweep: NonNullable<BenchResults['methods'][number]['gateSweep']>, baseUneditedFacts: number): string {
  const line = (name: string, value: (p: (typeof sweep)[number]) => number): Series => ({
    name,
    points: sweep.filter((p) => !Number.isNaN(value(p))).map((p) => ({ x: p.radius, y: value(p) })),
  });
  return lineChart(
    [
      line('reliability', (p) => p.reliability),
      line('generalization', (p) => p.generalization),
      line('locality', (p) => p.locality),
      // Relative to the base model, so that 1 means no unedited fact lost.
      line('unedited facts kept', (p) => (baseUneditedFacts > 0 ? p.uneditedFacts / baseUneditedFacts : NaN)),
    ],
    { title: `${method}: the gate radius trade-off on the same edits`, xLabel: 'gate radius', yLabel: 'share', yRange: [0, 1] },
  );
}

function codeChart(method: string, embedding: NonNullable<BenchResults['methods'][number]['codeEmbedding']>): string {
  const groups = [...new Set(embedding.points.map((p) => p.group))];
  const series: Series[] = groups.map((group) => ({ name: group, points: embedding.points.filter((p) => p.group === group).map((p) => ({ x: p.x, y: p.y })) }));
  return scatterChart(series, { title: `${method}: allocation codes (UMAP, Hamming)`, xLabel: 'UMAP 1', yLabel: 'UMAP 2' });
}

/** A rate as a percentage; '–' for NaN, and for null (NaN once a result has been through JSON) or a figure a saved run lacks. */
const pct = (value: number | null | undefined) => (value === null || value === undefined || Number.isNaN(value) ? '–' : (100 * value).toFixed(1));
const measured = (value: number | null | undefined): value is number => value !== null && value !== undefined && !Number.isNaN(value);
/** A figure with `digits` decimals, or – when it was not measured (NaN comes back from JSON as null). */
const fixed = (value: number | null | undefined, digits: number) => (measured(value) ? value.toFixed(digits) : '–');
/** A figure's change relative to the base model's, as a signed percentage. */
const change = (value: number | null | undefined, from: number) =>
  measured(value) && measured(from) ? `${value >= from ? '+' : ''}${((100 * (value - from)) / from).toFixed(1)}%` : '–';

/**
 * The general tasks in the paper's Table 2 layout: one column per task and
 * their average, the base model first, then each method after its stream.
 */
function taskTable(results: BenchResults): string[] {
  const names = Object.keys(results.base.tasks ?? {});
  const average = (scores: readonly number[]) => scores.reduce((a, b) => a + b, 0) / scores.length;
  const row = (who: string, scores: readonly (number | undefined)[]) => {
    const known = scores.filter((s): s is number => s !== undefined);
    return `| ${who} | ${scores.map((s) => pct(s)).join(' | ')} | ${known.length === scores.length ? pct(average(known)) : '–'} |`;
  };
  return [
    `| Test retention, general tasks | ${names.join(' | ')} | Average |`,
    `|---|${names.map(() => '---:').join('|')}|---:|`,
    row(
      'base model (no edit)',
      names.map((n) => results.base.tasks![n]),
    ),
    ...results.methods.map((m) =>
      row(
        m.method,
        names.map((n) => m.tasks?.[n]?.after),
      ),
    ),
    '',
    'Each task as Gu et al. (2024) measure it: accuracy of the likeliest choice (classification), exact match, the final number, ROUGE-1/2/L F1 averaged (summaries) or entity-level F1, in %; the average is the test retention the paper reports.',
  ];
}

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
    '| Method | Rel. | Gen. | Loc. | Avg. | Rel. (tokens) | Gen. (tokens) | s / edit | Added or changed parameters |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| base model (no edit) | ${pct(results.base.reliability)} | ${pct(results.base.generalization)} | 100.0 | – | – | – | – | 0 |`,
  ];
  for (const m of results.methods) {
    const avg = [m.reliability, m.generalization, m.locality].filter((v) => !Number.isNaN(v));
    lines.push(
      `| ${m.method} | ${pct(m.reliability)} | ${pct(m.generalization)} | ${pct(m.locality)} | ${pct(avg.reduce((a, b) => a + b, 0) / avg.length)} | ${pct(m.reliabilityTokens)} | ${pct(m.generalizationTokens)} | ${m.secondsPerEdit.toFixed(2)} | ${m.addedParameters.toLocaleString('en-US')} |`,
    );
  }
  const { base, retentionData } = results;
  if (retentionData !== undefined) {
    lines.push(
      '',
      `| Retention | Unedited facts | Change | General-text perplexity | Change |`,
      '|---|---:|---:|---:|---:|',
      `| base model (no edit) | ${pct(base.uneditedFacts)} | – | ${base.perplexity.toFixed(2)} | – |`,
    );
    for (const m of results.methods) {
      lines.push(
        `| ${m.method} | ${pct(m.uneditedFacts)} | ${change(m.uneditedFacts, base.uneditedFacts)} | ${fixed(m.perplexity, 2)} | ${change(m.perplexity, base.perplexity)} |`,
      );
    }
  }
  if (base.generation !== undefined) {
    const g = base.generation;
    lines.push(
      '',
      `| Generation (greedy, ${GENERATION_TOKENS} tokens) | Answers, edited prompts | Answers, held-out | Fluency, edited prompts | Change | Fluency, about the subject | Change | Repetition |`,
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      `| base model (no edit) | ${pct(g.answerRate)} | ${pct(g.heldOutAnswerRate)} | ${fixed(g.fluency, 3)} | – | ${fixed(g.subjectFluency, 3)} | – | ${pct(g.repetition)} |`,
    );
    for (const m of results.methods) {
      const e = m.generation;
      lines.push(
        e === undefined
          ? `| ${m.method} | – | – | – | – | – | – | – |`
          : `| ${m.method} | ${pct(e.answerRate)} | ${pct(e.heldOutAnswerRate)} | ${fixed(e.fluency, 3)} | ${change(e.fluency, g.fluency)} | ${fixed(e.subjectFluency, 3)} | ${change(e.subjectFluency, g.subjectFluency)} | ${pct(e.repetition)} |`,
      );
    }
  }
  if (base.tasks !== undefined) lines.push('', ...taskTable(results));
  const understood = base.heldOutTrue;
  if (understood !== undefined) {
    const knownCount = Math.round(understood.known * understood.prompts);
    lines.push(
      '',
      `| Generalization, by what the base model knows | Rephrasings it answers with the true object (${knownCount}) | Rephrasings it does not (${understood.prompts - knownCount}) |`,
      '|---|---:|---:|',
    );
    for (const m of results.methods) lines.push(`| ${m.method} | ${pct(m.generalizationByBase?.known)} | ${pct(m.generalizationByBase?.unknown)} |`);
  }
  for (const m of results.methods) {
    if (m.gateSweep === undefined) continue;
    const trained = m.gateRadius;
    lines.push(
      '',
      `| ${m.method}: gate radius, after the stream | Rel. | Gen. | Gen., understood | Loc. | Unedited facts | Change |`,
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const p of m.gateSweep)
      lines.push(
        `| ${p.radius}${p.radius === trained ? ' (its setting)' : ''} | ${pct(p.reliability)} | ${pct(p.generalization)} | ${pct(p.generalizationByBase?.known)} | ${pct(p.locality)} | ${pct(p.uneditedFacts)} | ${change(p.uneditedFacts, base.uneditedFacts)} |`,
      );
  }
  const routed = results.methods.filter((m) => m.diagnostics !== undefined && m.diagnostics.length > 0);
  if (routed.length > 0) {
    lines.push(
      '',
      '| Routing after the last batch | Codes still matching | Unrelated prompts deferred | Median unrelated code distance |',
      '|---|---:|---:|---:|',
    );
    for (const m of routed) {
      const last = m.diagnostics![m.diagnostics!.length - 1];
      const sorted = [...last.unrelatedDistances].sort((a, b) => a - b);
      lines.push(
        `| ${m.method} | ${pct(last.codesStable)} | ${pct(last.unrelatedDeferred)} | ${sorted.length === 0 ? '–' : sorted[Math.floor(sorted.length / 2)]} |`,
      );
    }
  }
  lines.push(
    '',
    "Rel. = edited prompts whose every target token is the argmax (teacher forcing); Gen. = the same on held-out rephrasings; Loc. = unrelated prompts whose greedy continuation equals the base model's. Percentages.",
    ...(base.generation === undefined
      ? []
      : [
          '',
          "Answers = greedy answers that start with the whole target and then stop, or go on without saying it again or repeating a fragment; fluency = ROME's n-gram entropy (weighted mean of 2- and 3-gram entropies, bits) of the greedy generation; repetition = generations that repeat a fragment three times in a row (edited prompts, held-out rephrasings and prompts about the subject).",
        ]),
    ...(understood === undefined
      ? []
      : [
          '',
          `The base model answers ${pct(understood.known)}% of the ${understood.prompts} held-out rephrasings with the edited fact's true object; the generalization split shows how far each method carries an edit to the phrasings the model understands for its own fact, and to the others.`,
        ]),
    ...(retentionData === undefined
      ? []
      : [
          '',
          `Unedited facts = the ${retentionData.factPrompts} locality prompts that state a fact whose whole answer is the teacher-forced argmax; perplexity over ${retentionData.generalTextTokens.toLocaleString('en-US')} tokens of held-out general text, each window of text routed as one input. Change is relative to the base model; – where a run was saved before these were measured.`,
        ]),
    '',
    `Protocol: ${results.protocol}.`,
    '',
    `![Reliability of all edits so far](${REPORT_FILES.retention})`,
    '',
    `![Reliability of the first ${EARLY_RECORDS} records' edits](${REPORT_FILES.early})`,
  );
  if (results.methods.some((m) => m.gateSweep !== undefined)) lines.push('', `![The gate radius trade-off](${REPORT_FILES.gate})`);
  if (hasCodePlot) lines.push('', `![Allocation codes](${REPORT_FILES.codes})`, '', `![Distance to the nearest stored code](${REPORT_FILES.distances})`);
  return `${lines.join('\n')}\n`;
}
