/**
 * Replacing a linear's output by stored values from an input's last prompt
 * token on: how GRACE's codebook entries and SERAC's counterfactual values
 * answer an input they took.
 */
import { replaceRows } from '../../tensor/ops/select.js';
import { noGrad, Tensor } from '../../tensor/tensor.js';

/**
 * `output` [B, T, width] with sequence b's rows from position `from(b)` on
 * replaced by row `chosen[b]` of `table` [entries, width] (−1: left alone).
 */
export function replaceFrom(output: Tensor, table: Tensor, chosen: readonly number[], from: (b: number) => number): Tensor {
  const steps = output.shape[1];
  const rows: number[] = [];
  const values: number[] = [];
  chosen.forEach((entry, b) => {
    if (entry < 0) return;
    for (let t = from(b); t < steps; t++) {
      rows.push(b * steps + t);
      values.push(entry);
    }
  });
  if (rows.length === 0) return output;
  return noGrad(() => replaceRows(output, Int32Array.from(rows), table, Int32Array.from(values)));
}

/** Rows (b·T + t) from each sequence's query row to its end: the rows a trained value replaces while it is fitted. */
export function rowsFromQueries(queryRows: Int32Array, steps: number): Int32Array {
  const rows: number[] = [];
  queryRows.forEach((query, b) => {
    for (let row = query; row < (b + 1) * steps; row++) rows.push(row);
  });
  return Int32Array.from(rows);
}

/** {@link replaceFrom} with a table made of `values` (each [1, width]): entry i's value is `values[i]`. */
export function replaceFromValues(output: Tensor, values: readonly Tensor[], chosen: readonly number[], from: (b: number) => number): Tensor {
  if (chosen.every((entry) => entry < 0)) return output;
  const width = output.lastDim;
  const table = Tensor.zeros([values.length, width]);
  values.forEach((value, i) => {
    table.data.set(value.data, i * width);
  });
  return replaceFrom(output, table, chosen, from);
}
