/** Row gather from an embedding table (token and position embeddings); backward scatter-adds. */

import { ShapeError } from '../../util/errors.js';
import { decodeHalf } from '../half.js';
import { recordGrad, Tensor } from '../tensor.js';

/** Rows `ids` of `table` [V, E], shaped [...idsShape, E]. */
export function embedding(table: Tensor, ids: Int32Array, idsShape: readonly number[]): Tensor {
  const [vocab, width] = table.shape;
  const count = idsShape.reduce((a, b) => a * b, 1);
  if (count !== ids.length) throw new ShapeError(`embedding: ${ids.length} ids do not fill shape [${idsShape.join(', ')}]`);
  const out = Tensor.zeros([...idsShape, width]);
  // A half-precision table is read row by row as stored.
  const half = table.half;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(id >= 0 && id < vocab)) throw new ShapeError(`embedding: id ${id} outside the table of ${vocab} rows`);
    if (half !== null) decodeHalf(half.bits, half.dtype, id * width, width, out.data, i * width);
    else out.data.set(table.data.subarray(id * width, (id + 1) * width), i * width);
  }
  recordGrad(out, [table], (dy) => {
    const grad = table.gradBuffer();
    for (let i = 0; i < ids.length; i++) {
      const row = ids[i] * width;
      const src = i * width;
      for (let c = 0; c < width; c++) grad[row + c] += dy[src + c];
    }
  });
  return out;
}
