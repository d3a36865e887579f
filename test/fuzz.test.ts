import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAILURES, fuzzSurface } from '../fuzz/harness.js';
import { SURFACES } from '../fuzz/surfaces/index.js';
import { createWorkspace } from '../fuzz/workspace.js';

// A bounded, seeded sample of `npm run fuzz` (which runs 10,000 cases per surface): every surface, every
// kind of damage, no crash, hang, 5xx or silent change. A failure prints the input that caused it.
const CASES: Record<string, number> = { 'tokenizer.json': 30, HTTP: 300 };

test('fuzz sample: every input surface ends in a clear error, a 4xx, acceptance or a documented recovery', { timeout: 120_000 }, async () => {
  const ws = createWorkspace();
  try {
    for (const { name, create } of SURFACES) {
      const report = await fuzzSurface(await create(ws), CASES[name] ?? 150, 20261130);
      const failed = FAILURES.reduce((n, o) => n + (report.counts[o] ?? 0), 0);
      assert.equal(failed, 0, `${name}: ${failed} failures, e.g. ${JSON.stringify(report.failures[0])}`);
      // The sample must reach past the first check: some inputs are accepted or recovered, others refused.
      assert.ok((report.counts['clear error'] ?? 0) + (report.counts['client error (4xx)'] ?? 0) > 0, `${name}: nothing was refused`);
      assert.ok((report.counts.accepted ?? 0) + (report.counts.recovered ?? 0) > 0, `${name}: nothing was accepted`);
    }
  } finally {
    ws.remove();
  }
});
