/**
 * `npm run fuzz`: every input surface, 10,000 seeded cases each by default
 * (`-- --cases N --seed S --only NAME`), with the count of each outcome.
 * Exits non-zero if any case crashed, hung, got a 5xx or silently changed
 * stored edits; the first failures are printed with their inputs.
 */
import os from 'node:os';
import { failureCount, fuzzSurface, type Outcome, type Surface, type SurfaceReport } from './harness.js';
import { SURFACES } from './surfaces/index.js';
import { createWorkspace } from './workspace.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1] : fallback;
}

const cases = Number(option('cases', '10000'));
const seed = Number(option('seed', '1'));
const only = option('only', '');
const OUTCOMES: Outcome[] = ['accepted', 'clear error', 'client error (4xx)', 'recovered', 'crash', 'hang', 'server error (5xx)', 'silent change'];

const ws = createWorkspace();
const reports: SurfaceReport[] = [];
try {
  const chosen = SURFACES.filter((s) => only === '' || s.name.includes(only));
  console.log(`# elder fuzz: ${chosen.length} surfaces × ${cases} cases, seed ${seed}; ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}\n`);
  for (const { name, create } of chosen) {
    process.stderr.write(`${name}: ${cases} cases …\n`);
    const surface = (await create(ws)) as Surface<unknown>;
    const report = await fuzzSurface(surface, cases, seed);
    reports.push(report);
    for (const failure of report.failures) console.log(`  FAIL ${report.surface}: ${failure.detail}\n       input: ${failure.example}`);
  }
  const used = OUTCOMES.filter((o) => reports.some((r) => (r.counts[o] ?? 0) > 0));
  console.log(`| surface | cases | ${used.join(' | ')} | seconds |`);
  console.log(`|---|---:|${used.map(() => '---:').join('|')}|---:|`);
  for (const r of reports) console.log(`| ${r.surface} | ${r.cases} | ${used.map((o) => r.counts[o] ?? 0).join(' | ')} | ${r.seconds.toFixed(0)} |`);
  const failures = failureCount(reports);
  console.log(`\n${failures === 0 ? 'no' : failures} failures (crash, hang, 5xx or silent change).`);
  process.exitCode = failures === 0 ? 0 : 1;
} finally {
  ws.remove();
}
