/**
 * Dependency-free SVG charts for reports: line charts (loss curves,
 * reliability over edits) and scatter plots (2-D embeddings of codes).
 * Output is deterministic text, so reports can be diffed and tested.
 */

export interface Point {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  points: readonly Point[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Fixed y range (e.g. [0, 1] for rates); otherwise fitted to the data. */
  yRange?: [number, number];
  /** Plot y on a log10 axis (positive values only). */
  logY?: boolean;
}

/** Colour-blind-safe palette (Okabe–Ito). */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];
/** Line patterns for the palette's later rounds: a report of fifteen methods must not draw two of them alike. */
const DASHES = ['', '7 4', '2 3', '9 3 2 3'];

/** The colour and line pattern of the series at `index`: every colour solid first, then every colour dashed, and so on. */
function seriesStyle(index: number): { colour: string; dash: string } {
  return { colour: PALETTE[index % PALETTE.length], dash: DASHES[Math.floor(index / PALETTE.length) % DASHES.length] };
}
const MARGIN = { left: 64, right: 150, top: 36, bottom: 48 };

/** A line chart with one polyline (and markers) per series and a legend. */
export function lineChart(series: readonly Series[], options: ChartOptions): string {
  return chart(series, options, 'line');
}

/** A scatter plot, one colour per series (group). */
export function scatterChart(series: readonly Series[], options: ChartOptions): string {
  return chart(series, options, 'scatter');
}

function chart(series: readonly Series[], options: ChartOptions, kind: 'line' | 'scatter'): string {
  // The legend column widens to its longest name (about 7 px a character at 12 px), the plot keeping its size.
  const legendWidth = Math.max(MARGIN.right, 40 + 7 * Math.max(0, ...series.map((s) => s.name.length)));
  const width = (options.width ?? 720) + legendWidth - MARGIN.right;
  const height = options.height ?? 420;
  const plotW = width - MARGIN.left - legendWidth;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const transformY = options.logY === true ? (y: number) => Math.log10(Math.max(y, 1e-12)) : (y: number) => y;
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => transformY(p.y));
  const [xMin, xMax] = padRange(Math.min(...xs, Infinity), Math.max(...xs, -Infinity), kind === 'scatter');
  const [yMin, yMax] = options.yRange !== undefined ? options.yRange.map(transformY) : padRange(Math.min(...ys, Infinity), Math.max(...ys, -Infinity), true);
  const px = (x: number) => MARGIN.left + ((x - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number) => MARGIN.top + plotH - ((transformY(y) - yMin) / (yMax - yMin)) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  // Grid and ticks.
  for (const tick of ticks(xMin, xMax, 6)) {
    const x = px(tick).toFixed(1);
    parts.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${formatTick(tick)}</text>`);
  }
  for (const tick of ticks(yMin, yMax, 5)) {
    const y = (MARGIN.top + plotH - ((tick - yMin) / (yMax - yMin)) * plotH).toFixed(1);
    const label = options.logY === true ? formatTick(10 ** tick) : formatTick(tick);
    parts.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${label}</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);

  series.forEach((s, index) => {
    const { colour, dash } = seriesStyle(index);
    const dashAttribute = kind === 'line' && dash !== '' ? ` stroke-dasharray="${dash}"` : '';
    const points = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (kind === 'line' && points.length > 1) {
      const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
      parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"${dashAttribute}><title>${escapeXml(s.name)}</title></path>`);
    }
    if (kind === 'scatter' || points.length <= 40) {
      for (const p of points)
        parts.push(
          `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="${kind === 'scatter' ? 4 : 2.5}" fill="${colour}" fill-opacity="${kind === 'scatter' ? 0.75 : 1}"/>`,
        );
    }
    const ly = MARGIN.top + 10 + index * 18;
    const lx = MARGIN.left + plotW + 12;
    // A line's legend key is a stroke in its pattern; a scatter group's, a square of its colour.
    if (kind === 'line') parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${colour}" stroke-width="2.5"${dashAttribute}/>`);
    else parts.push(`<rect x="${lx}" y="${ly - 6}" width="12" height="12" fill="${colour}"/>`);
    parts.push(`<text x="${lx + (kind === 'line' ? 28 : 18)}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function padRange(min: number, max: number, pad: boolean): [number, number] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) return [min - 1, max + 1];
  const margin = pad ? (max - min) * 0.05 : 0;
  return [min - margin, max + margin];
}

/** About `count` round tick values covering [min, max]. */
export function ticks(min: number, max: number, count: number): number[] {
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const values: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) values.push(Number(v.toPrecision(12)));
  return values;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e4 || abs < 1e-3) return value.toExponential(0);
  return Number(value.toPrecision(4)).toString();
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
