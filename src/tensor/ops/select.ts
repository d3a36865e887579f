/** Picking and splitting: rows by index (positions), columns by width (fused q/k/v). */
import { Tensor, recordGrad } from '../tensor.js';
import { ShapeError } from '../../util/errors.js';

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
