/** Picking and splitting: rows by index (positions), columns by width (fused q/k/v). */

import { ShapeError } from '../../util/errors.js';
import { recordGrad, Tensor } from '../tensor.js';

/** Rows `indices` of x viewed as [rows, lastDim]; returns [indices.length, lastDim]. */
export function selectRows(x: Tensor, indices: Int32Array | readonly number[]): Tensor {
  const width = x.lastDim;
  const rows = x.rows;
  const out = Tensor.zeros([indices.length, width]);
  for (let i = 0; i < indices.length; i++) {
    const row = indices[i];
    if (!(row >= 0 && row < rows)) throw new ShapeError(`selectRows: row ${row} outside 0..${rows - 1}`);
    out.data.set(x.data.subarray(row * width, (row + 1) * width), i * width);
  }
  recordGrad(out, [x], (dy) => {
    const grad = x.gradBuffer();
    for (let i = 0; i < indices.length; i++) {
      const dst = indices[i] * width;
      for (let c = 0; c < width; c++) grad[dst + c] += dy[i * width + c];
    }
  });
  return out;
}

/** Splits the last dimension into consecutive pieces of the given widths. */
export function splitColumns(x: Tensor, widths: readonly number[]): Tensor[] {
  const total = widths.reduce((a, b) => a + b, 0);
  if (total !== x.lastDim) throw new ShapeError(`splitColumns: widths sum to ${total}, last dimension is ${x.lastDim}`);
  const rows = x.rows;
  let start = 0;
  return widths.map((width) => {
    const offset = start;
    start += width;
    const out = Tensor.zeros([...x.shape.slice(0, -1), width]);
    for (let r = 0; r < rows; r++) {
      out.data.set(x.data.subarray(r * total + offset, r * total + offset + width), r * width);
    }
    recordGrad(out, [x], (dy) => {
      const grad = x.gradBuffer();
      for (let r = 0; r < rows; r++) {
        const dst = r * total + offset;
        for (let c = 0; c < width; c++) grad[dst + c] += dy[r * width + c];
      }
    });
    return out;
  });
}

/**
 * x with rows `rows[i]` replaced by `values` row `valueIndex[i]` (x viewed as
 * [rows, lastDim], values [V, lastDim]). Gradients: replaced rows of x get
 * none; each value row receives the sum over the rows it replaced.
 */
export function replaceRows(x: Tensor, rows: Int32Array, values: Tensor, valueIndex: Int32Array): Tensor {
  return scatterRows('replaceRows', x, rows, values, valueIndex, false);
}

/**
 * x with `values` row `valueIndex[i]` added to row `rows[i]` (x viewed as
 * [rows, lastDim], values [V, lastDim]): a shift applied at chosen positions
 * (a locate-then-edit method's value shift at the subject's last token).
 * Gradients: x receives dy unchanged; each value row the sum over its rows.
 */
export function addToRows(x: Tensor, rows: Int32Array, values: Tensor, valueIndex: Int32Array): Tensor {
  return scatterRows('addToRows', x, rows, values, valueIndex, true);
}

/** Writes (or, with `add`, adds) value rows into chosen rows of a copy of x; the backward of both. */
function scatterRows(op: string, x: Tensor, rows: Int32Array, values: Tensor, valueIndex: Int32Array, add: boolean): Tensor {
  const width = x.lastDim;
  if (values.lastDim !== width) throw new ShapeError(`${op}: values have ${values.lastDim} columns, x has ${width}`);
  if (valueIndex.length !== rows.length) throw new ShapeError(`${op}: ${rows.length} rows but ${valueIndex.length} value indices`);
  const out = new Tensor(x.data.slice(), x.shape);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const source = valueIndex[i];
    if (!(row >= 0 && row < x.rows)) throw new ShapeError(`${op}: row ${row} outside 0..${x.rows - 1}`);
    if (!(source >= 0 && source < values.rows)) throw new ShapeError(`${op}: value ${source} outside 0..${values.rows - 1}`);
    const value = values.data.subarray(source * width, (source + 1) * width);
    if (add) for (let c = 0; c < width; c++) out.data[row * width + c] += value[c];
    else out.data.set(value, row * width);
  }
  recordGrad(out, [x, values], (dy) => {
    if (x.requiresGrad) {
      const grad = x.gradBuffer();
      if (add) for (let i = 0; i < dy.length; i++) grad[i] += dy[i];
      else {
        const replaced = new Uint8Array(x.rows);
        for (const row of rows) replaced[row] = 1;
        for (let r = 0; r < x.rows; r++) if (!replaced[r]) for (let c = 0; c < width; c++) grad[r * width + c] += dy[r * width + c];
      }
    }
    if (values.requiresGrad) {
      const grad = values.gradBuffer();
      for (let i = 0; i < rows.length; i++) {
        const dst = valueIndex[i] * width;
        const src = rows[i] * width;
        for (let c = 0; c < width; c++) grad[dst + c] += dy[src + c];
      }
    }
  });
  return out;
}
