/**
 * Half-precision products (part of `npm run bench -- --only=kernels`): B as
 * BF16 bits, converted inside the kernel, against float32 sgemm on the same
 * values. One row of A (a decoding step) is bound by reading B, so it is
 * given in GB/s of B read, beside the machine's read bandwidth (a vectorised
 * scan of 1 GiB); more rows (a prompt, a training batch) in GFLOP/s. Several
 * copies of each B are cycled so that none stays in cache.
 */
import { kernels } from '../src/tensor/backends/index.js';
import { medianSeconds, printTable, readBandwidth } from './harness.js';

/** B's shapes of a 1B LLaMA block and head ([N, K], nn.Linear) and of GPT2-XL's MLP ([K, N], Conv1D). */
const SHAPES: Array<{ name: string; transB: boolean; N: number; K: number }> = [
  { name: 'q_proj 2048×2048', transB: true, N: 2048, K: 2048 },
  { name: 'gate_proj 8192×2048', transB: true, N: 8192, K: 2048 },
  { name: 'down_proj 2048×8192', transB: true, N: 2048, K: 8192 },
  { name: 'GPT2-XL c_fc [1600, 6400]', transB: false, N: 6400, K: 1600 },
  { name: 'GPT2-XL c_proj [6400, 1600]', transB: false, N: 1600, K: 6400 },
];

export function halfTable(budget: number): void {
  const rows: string[][] = [];
  for (const { name, transB, N, K } of SHAPES) {
    const copies = Math.max(2, Math.ceil(256e6 / (N * K * 2)));
    const bits = Array.from({ length: copies }, (_, c) => new Uint16Array(N * K).fill(0x3c00 + c));
    const values = bits.slice(0, 1).map((b) => {
      const f = new Float32Array(b.length);
      kernels.halfToFloat(b, 0, 2, f, b.length);
      return f;
    })[0];
    const ldb = transB ? K : N;
    const rates: string[] = [];
    for (const M of [1, 16, 80]) {
      const A = new Float32Array(M * K).fill(0.01);
      const C = new Float32Array(M * N);
      let next = 0;
      const half = medianSeconds(() => kernels.sgemmHalfB(transB, M, N, K, A, 0, K, bits[next++ % copies], 0, ldb, 2, 0, C, 0, N), { budgetSeconds: budget });
      const full = medianSeconds(() => kernels.sgemm(false, transB, M, N, K, 1, A, 0, K, values, 0, ldb, 0, C, 0, N), { budgetSeconds: budget });
      if (M === 1) rates.push(`${((N * K * 2) / half / 1e9).toFixed(1)} GB/s`, `${((N * K * 4) / full / 1e9).toFixed(1)} GB/s`);
      else rates.push(((2 * M * N * K) / half / 1e9).toFixed(0), ((2 * M * N * K) / full / 1e9).toFixed(0));
    }
    rows.push([name, ...rates]);
  }
  const bandwidth = readBandwidth();
  printTable(
    `Half-precision products (BF16 B converted in the kernel) against float32 sgemm on the same values; read bandwidth ${bandwidth.toFixed(1)} GB/s`,
    ['B', '1 row: BF16, B read', '1 row: F32 sgemm', '16 rows: BF16 GFLOP/s', '16 rows: F32', '80 rows: BF16 GFLOP/s', '80 rows: F32'],
    rows,
  );
}
