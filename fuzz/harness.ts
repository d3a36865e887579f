/**
 * Property-based fuzzing of every surface that takes outside input. A surface
 * turns a generated case into one outcome; the harness runs seeded cases
 * (fast-check, so a failure is reproducible from its seed and shrunk to a
 * small example) and counts outcomes. Acceptable outcomes are a clear error
 * (an ElderError, or a 4xx for HTTP), acceptance, or a documented recovery;
 * a crash (any other exception), a hang, a 5xx or a silent change to stored
 * edits is a failure.
 */
import fc from 'fast-check';
import { ElderError } from '../src/util/errors.js';

/** What a case came to. The first four are acceptable. */
export type Outcome = 'accepted' | 'clear error' | 'client error (4xx)' | 'recovered' | 'crash' | 'hang' | 'server error (5xx)' | 'silent change';

export const FAILURES: readonly Outcome[] = ['crash', 'hang', 'server error (5xx)', 'silent change'];

export interface CaseResult {
  outcome: Outcome;
  /** For failures: what happened, one line. */
  detail?: string;
}

/** One input surface: how to generate cases and what one case comes to. */
export interface Surface<T> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  run(input: T): CaseResult | Promise<CaseResult>;
  /** Seconds after which a case counts as a hang. */
  hangSeconds?: number;
  /** Called once after all cases (servers, temporary folders). */
  close?(): void | Promise<void>;
}

export interface SurfaceReport {
  surface: string;
  cases: number;
  counts: Partial<Record<Outcome, number>>;
  failures: Array<{ detail: string; example: string }>;
  seconds: number;
}

/** Classifies a thrown value from a loader: ours (clear, with a first line that says something) or a crash. */
export function classifyError(error: unknown): CaseResult {
  if (error instanceof ElderError) {
    const first = error.message.split('\n')[0];
    if (first.trim().length > 0 && first.length <= 400) return { outcome: 'clear error' };
    return { outcome: 'crash', detail: `unclear message: ${JSON.stringify(first.slice(0, 200))}` };
  }
  const e = error as Error;
  return {
    outcome: 'crash',
    detail: `${e?.name ?? typeof error}: ${String(e?.message ?? error)
      .split('\n')[0]
      .slice(0, 200)}`,
  };
}

/** Runs a loader and classifies what it did. */
export function attempt(load: () => unknown): CaseResult {
  try {
    load();
    return { outcome: 'accepted' };
  } catch (error) {
    return classifyError(error);
  }
}

/** Runs `cases` seeded cases of a surface and counts the outcomes (keeping the first few failures). */
export async function fuzzSurface<T>(surface: Surface<T>, cases: number, seed: number): Promise<SurfaceReport> {
  const counts: Partial<Record<Outcome, number>> = {};
  const failures: SurfaceReport['failures'] = [];
  const started = performance.now();
  const hangMs = (surface.hangSeconds ?? 5) * 1000;
  const samples = fc.sample(surface.arbitrary, { seed, numRuns: cases });
  try {
    for (const input of samples) {
      const t0 = performance.now();
      let result: CaseResult;
      try {
        result = await surface.run(input);
      } catch (error) {
        result = { outcome: 'crash', detail: `the harness itself failed: ${(error as Error).message}` };
      }
      if (performance.now() - t0 > hangMs && !FAILURES.includes(result.outcome))
        result = { outcome: 'hang', detail: `took ${((performance.now() - t0) / 1000).toFixed(1)} s` };
      counts[result.outcome] = (counts[result.outcome] ?? 0) + 1;
      if (FAILURES.includes(result.outcome) && failures.length < 5)
        failures.push({ detail: `${result.outcome}: ${result.detail ?? ''}`, example: describe(input) });
    }
  } finally {
    await surface.close?.();
  }
  return { surface: surface.name, cases, counts, failures, seconds: (performance.now() - started) / 1000 };
}

/** A failing input, short: damaged bytes as the text they hold (cut), other values as JSON. */
function describe(input: unknown): string {
  const text = JSON.stringify(input, function (key, value) {
    const raw = (this as Record<string, unknown>)[key];
    if (raw instanceof Uint8Array) return `${raw.length} bytes: ${Buffer.from(raw).toString('utf8').slice(0, 160)}`;
    return typeof value === 'bigint' ? `${value}n` : value;
  });
  return (text ?? String(input)).slice(0, 400);
}

/** Total failures in a set of reports. */
export function failureCount(reports: readonly SurfaceReport[]): number {
  return reports.reduce((n, r) => n + FAILURES.reduce((m, o) => m + (r.counts[o] ?? 0), 0), 0);
}
