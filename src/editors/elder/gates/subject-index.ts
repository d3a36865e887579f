/**
 * The subject gate's index over live edits: an input matches an edit when
 * its gate query lies within the query radius of the edit's and, where the
 * edit named its subject, the input's states at the subject site hold the
 * subject: with `last-token`, one token within the subject radius of the
 * subject's last; with `span`, a run of consecutive tokens each within the
 * subject radius of the subject's tokens, as in the edit's prompt or as a
 * text's opening words.
 *
 * A fact's rephrasing differs from its edited phrasing mostly along the
 * directions in which templates differ. The `whitened` metric measures query
 * distance as the Mahalanobis distance under the scatter of queries *within*
 * a label (an edit applied in several phrasings gives one sample of it per
 * extra phrasing), shrunk towards the identity: template directions count for
 * little, subject and relation directions for much. docs/decisions.md has
 * the measurements behind the metric and the radii.
 */

import { choleskyLower, invertLower } from '../../../tensor/linalg.js';
import { matmul } from '../../../tensor/ops/matmul.js';
import { noGrad, Tensor } from '../../../tensor/tensor.js';

export type SubjectTest = 'last-token' | 'span';
export const SUBJECT_TESTS: readonly SubjectTest[] = ['last-token', 'span'];

export type QueryMetric = 'euclidean' | 'whitened';
export const QUERY_METRICS: readonly QueryMetric[] = ['euclidean', 'whitened'];

/** The whitened metric's d × d Cholesky costs d³/3 flops per rebuild; wider queries use `euclidean`. */
export const MAX_WHITENED_WIDTH = 2048;

/** What the index keeps of one live edit. */
export interface GateEntry {
  id: string;
  label: string;
  gateQuery: Float32Array;
  /** The subject site's state at the subject's last token. */
  subjectKey: Float32Array | null;
  /** Its states at every subject token, [tokens · width], as in the prompt (null: not kept, or no subject). */
  subjectSpan: Float32Array | null;
  /** The same for the subject's tokens alone, as a text's opening words. */
  subjectOpening: Float32Array | null;
}

export interface GateSettings {
  queryMetric: QueryMetric;
  /** Relative to the median Euclidean norm of the stored gate queries (`euclidean`) or to the median whitened distance between different labels' queries (`whitened`). */
  queryRadius: number;
  /** Relative to the median norm of the stored subject keys. */
  subjectRadius: number;
  /** Shrinkage of the within-label scatter towards the identity, as a share of its mean eigenvalue. */
  scatterShrinkage: number;
  subjectTest: SubjectTest;
}

export class SubjectIndex {
  private constructor(
    private readonly entries: readonly GateEntry[],
    /** Stored gate queries in the metric's coordinates, [n · d]. */
    private readonly points: Float32Array,
    /** Whitening as an [in, out] matrix (Tᵀ, with T·Σ·Tᵀ = I); null for `euclidean`. */
    private readonly whitening: Tensor | null,
    private readonly queryRadius2: number,
    private readonly subjectRadius2: number,
    private readonly subjectTest: SubjectTest,
  ) {}

  /** The index over `entries` (live edits). Rebuild it whenever they change. */
  static build(entries: readonly GateEntry[], settings: GateSettings): SubjectIndex {
    const width = entries[0]?.gateQuery.length ?? 0;
    const raw = new Float32Array(entries.length * width);
    entries.forEach((e, i) => {
      raw.set(e.gateQuery, i * width);
    });
    const keyScale = median(entries.flatMap((e) => (e.subjectKey === null ? [] : [norm(e.subjectKey)])));
    const subjectRadius2 = (settings.subjectRadius * keyScale) ** 2;
    if (settings.queryMetric === 'euclidean' || entries.length === 0) {
      const queryScale = median(entries.map((e) => norm(e.gateQuery)));
      return new SubjectIndex(entries, raw, null, (settings.queryRadius * queryScale) ** 2, subjectRadius2, settings.subjectTest);
    }
    const whitening = whiteningOf(withinLabelCovariance(entries, width, settings.scatterShrinkage), width);
    const points = noGrad(() => matmul(new Tensor(raw, [entries.length, width]), whitening)).data;
    const scale = medianDistanceBetweenLabels(entries, points, width);
    return new SubjectIndex(entries, points, whitening, (settings.queryRadius * scale) ** 2, subjectRadius2, settings.subjectTest);
  }

  get size(): number {
    return this.entries.length;
  }

  /**
   * The live edit an input matches, or null: the nearest edit whose gate
   * query lies within the query radius of the input's and, if it named a
   * subject, whose subject key lies within the subject radius of some
   * token's state (`tokenStates`: [tokens · width] at the subject site).
   */
  match(gateQuery: Float32Array, tokenStates: Float32Array): string | null {
    const width = gateQuery.length;
    const point = this.pointOf(gateQuery);
    const { entries, points, queryRadius2 } = this;
    let best: string | null = null;
    let bestDistance = Infinity;
    for (let i = 0; i < entries.length; i++) {
      let d = 0;
      for (let j = 0; j < width && d < queryRadius2; j++) {
        const diff = point[j] - points[i * width + j];
        d += diff * diff;
      }
      if (d >= queryRadius2 || d >= bestDistance) continue;
      if (!this.subjectNear(entries[i], tokenStates)) continue;
      best = entries[i].id;
      bestDistance = d;
    }
    return best;
  }

  /** For studies of the gate: per stored edit, its query distance from the input's in units of the query radius (below 1: within it). */
  queryDistances(gateQuery: Float32Array): Float32Array {
    const width = gateQuery.length;
    const point = this.pointOf(gateQuery);
    const { points, queryRadius2 } = this;
    return Float32Array.from(this.entries, (_, i) => {
      let d = 0;
      for (let j = 0; j < width; j++) {
        const diff = point[j] - points[i * width + j];
        d += diff * diff;
      }
      return Math.sqrt(d / queryRadius2);
    });
  }

  /** For studies of the gate: per stored edit, whether the input's tokens pass the subject test (true where it named no subject). */
  subjectsNear(tokenStates: Float32Array): boolean[] {
    return this.entries.map((e) => this.subjectNear(e, tokenStates));
  }

  /** A gate query in the metric's coordinates. */
  private pointOf(gateQuery: Float32Array): Float32Array {
    return this.whitening === null ? gateQuery : noGrad(() => matmul(new Tensor(gateQuery, [1, gateQuery.length]), this.whitening!)).data;
  }

  /** The input's states (`tokenStates`: [tokens · width] at the subject site) hold the entry's subject, or it named none. */
  private subjectNear(entry: GateEntry, tokenStates: Float32Array): boolean {
    const key = entry.subjectKey;
    if (key === null) return true;
    const width = key.length;
    // An edit journaled before spans were kept has only its last token to test.
    if (this.subjectTest === 'last-token' || entry.subjectSpan === null) return runFound(tokenStates, key, width, this.subjectRadius2);
    return (
      runFound(tokenStates, entry.subjectSpan, width, this.subjectRadius2) ||
      (entry.subjectOpening !== null && runFound(tokenStates, entry.subjectOpening, width, this.subjectRadius2))
    );
  }
}

/** Some run of consecutive tokens of `tokenStates` lies, token by token, within the radius of `run`'s tokens (both [tokens · width]). */
function runFound(tokenStates: Float32Array, run: Float32Array, width: number, radius2: number): boolean {
  const length = run.length / width;
  const tokens = tokenStates.length / width;
  for (let t = 0; t + length <= tokens; t++) {
    let all = true;
    for (let i = 0; i < length && all; i++) {
      let d = 0;
      const at = (t + i) * width;
      for (let j = 0; j < width && d < radius2; j++) {
        const diff = tokenStates[at + j] - run[i * width + j];
        d += diff * diff;
      }
      all = d < radius2;
    }
    if (all) return true;
  }
  return false;
}

/**
 * Scatter of gate queries around their label's mean, per degree of freedom,
 * shrunk by `shrinkage` (it keeps the metric defined while few labels have
 * two phrasings); the identity while no label has two
 * phrasings.
 */
function withinLabelCovariance(entries: readonly GateEntry[], width: number, shrinkage: number): Float64Array {
  const byLabel = new Map<string, Float32Array[]>();
  for (const e of entries) {
    const queries = byLabel.get(e.label);
    if (queries === undefined) byLabel.set(e.label, [e.gateQuery]);
    else queries.push(e.gateQuery);
  }
  const deviations: Float32Array[] = [];
  let dof = 0;
  for (const queries of byLabel.values()) {
    if (queries.length < 2) continue;
    const mean = new Float64Array(width);
    for (const q of queries) for (let j = 0; j < width; j++) mean[j] += q[j] / queries.length;
    for (const q of queries) deviations.push(Float32Array.from(q, (x, j) => x - mean[j]));
    dof += queries.length - 1;
  }
  const covariance = new Float64Array(width * width);
  if (dof === 0) {
    for (let j = 0; j < width; j++) covariance[j * width + j] = 1;
    return covariance;
  }
  // Σ = Dᵀ·D / dof through the matmul kernel: D is [m, width].
  const stacked = new Float32Array(deviations.length * width);
  const transposed = new Float32Array(width * deviations.length);
  deviations.forEach((v, i) => {
    stacked.set(v, i * width);
    for (let j = 0; j < width; j++) transposed[j * deviations.length + i] = v[j];
  });
  const scatter = noGrad(() => matmul(new Tensor(transposed, [width, deviations.length]), new Tensor(stacked, [deviations.length, width]))).data;
  let trace = 0;
  for (let j = 0; j < width; j++) trace += scatter[j * width + j] / dof;
  const ridge = (shrinkage * trace) / width;
  for (let i = 0; i < width * width; i++) covariance[i] = scatter[i] / dof;
  for (let j = 0; j < width; j++) covariance[j * width + j] += ridge > 0 ? ridge : 1;
  return covariance;
}

/** Tᵀ as a float32 [in, out] tensor, for T = L⁻¹ where L·Lᵀ = Σ, so that ‖T(x − y)‖ is the Mahalanobis distance. */
function whiteningOf(covariance: Float64Array, width: number): Tensor {
  const inverse = invertLower(choleskyLower(covariance, width), width);
  const transposed = new Float32Array(width * width);
  for (let i = 0; i < width; i++) for (let j = 0; j <= i; j++) transposed[j * width + i] = inverse[i * width + j];
  return new Tensor(transposed, [width, width]);
}

/** Median distance between stored points of different labels, over an evenly spaced sample of at most 256 points. */
function medianDistanceBetweenLabels(entries: readonly GateEntry[], points: Float32Array, width: number): number {
  const count = Math.min(256, entries.length);
  const sample = Array.from({ length: count }, (_, k) => Math.floor((k * entries.length) / count));
  const distances: number[] = [];
  for (let a = 0; a < count; a++) {
    for (let b = a + 1; b < count; b++) {
      const i = sample[a];
      const j = sample[b];
      if (entries[i].label === entries[j].label) continue;
      let d = 0;
      for (let c = 0; c < width; c++) {
        const diff = points[i * width + c] - points[j * width + c];
        d += diff * diff;
      }
      distances.push(Math.sqrt(d));
    }
  }
  // One label alone has no "other": fall back on the points' own spread.
  return distances.length > 0 ? median(distances) : median(entries.map((_, i) => norm(points.subarray(i * width, (i + 1) * width))));
}

function norm(v: Float32Array): number {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

function median(values: number[]): number {
  return values.length === 0 ? 0 : [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
}
