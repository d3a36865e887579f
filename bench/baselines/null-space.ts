/**
 * AlphaEdit's null space per edited block: how many key directions a
 * threshold leaves, what share of the key covariance's energy (trace) they
 * hold, and what share of the edited subjects' keys lies in them (what a
 * null-space update can reach), for the absolute threshold and for
 * thresholds set as a share of the energy.
 *
 *   node dist/bench/baselines/null-space.js [--records 100] [--cache DIR]
 *
 * --cache: a covariance cache measured on other text (`elder covariance
 * --text FILE --cache DIR`); default: the cache bench-edit uses.
 */
import { parseArgs } from 'node:util';
import { defaultAlphaEditConfig } from '../../src/editors/baselines/alphaedit.js';
import { contextBatch } from '../../src/editors/locate/contexts.js';
import { CovarianceCache } from '../../src/editors/locate/covariance.js';
import { subjectKeys } from '../../src/editors/locate/key-value.js';
import { nullSpaceBasis } from '../../src/editors/locate/solve.js';
import { studyStream } from './stream.js';

const { values } = parseArgs({ args: process.argv.slice(2), options: { records: { type: 'string' }, cache: { type: 'string' } } });
const records = Number(values.records ?? 100);
const cache = new CovarianceCache(values.cache);
const { model, edits } = studyStream(records);
const config = defaultAlphaEditConfig(model);
const batch = contextBatch(model, edits, [[]]);
const shares = [1e-3, 1e-2, 5e-2];

console.log(`AlphaEdit's null space on elder-facts; covariances from ${cache.dir}; keys of the first ${records} records' ${edits.length} edited prompts`);
console.log("| Block | Threshold | Directions | Energy held | Subject keys' energy in it |");
console.log('|---:|---|---:|---:|---:|');
for (let block = config.firstBlock; block <= config.lastBlock; block++) {
  const covariance = cache.read(model, block);
  if (covariance === null) throw new Error(`no key covariance of block ${block} in ${cache.dir}: measure it with elder covariance`);
  const width = covariance.width;
  const { values } = nullSpaceBasis(covariance.second, width, 0);
  const total = values.reduce((sum, v) => sum + v, 0);
  const { keys } = subjectKeys(model, batch, edits.length, block);
  const thresholds: [string, number][] = [[`absolute ${config.nullSpaceThreshold}`, config.nullSpaceThreshold]];
  for (const share of shares) {
    // The largest prefix of ascending eigenvalues whose sum stays within the share; the threshold between it and the next.
    let sum = 0;
    let m = 0;
    while (m < values.length && sum + values[m] <= share * total) sum += values[m++];
    thresholds.push([`${100 * share}% of the energy`, m === 0 ? values[0] / 2 : (values[m - 1] + values[m]) / 2]);
  }
  for (const [label, threshold] of thresholds) {
    const { basis, dimension } = nullSpaceBasis(covariance.second, width, threshold);
    let inside = 0;
    let all = 0;
    for (let e = 0; e < edits.length; e++) {
      const key = keys.subarray(e * width, (e + 1) * width);
      for (const v of key) all += v * v;
      for (let j = 0; j < dimension; j++) {
        let dot = 0;
        for (let i = 0; i < width; i++) dot += basis[j * width + i] * key[i];
        inside += dot * dot;
      }
    }
    const held = values.subarray(0, dimension).reduce((s, v) => s + v, 0) / total;
    console.log(`| ${block} | ${label} | ${dimension} | ${(100 * held).toFixed(2)}% | ${((100 * inside) / all).toFixed(2)}% |`);
  }
}
