/**
 * `npm run facts:card [-- DIR] [--retimed RUN_DIR]`: rewrites a trained
 * elder-facts folder's model card (README.md) from its own training record
 * and config.json, as `npm run train:facts` writes it at the end of training.
 * With `--retimed`, first records in it what a later from-scratch run of the
 * same recipe (`train:facts --out RUN_DIR`) took, keeping this folder's weights.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readConfig } from '../src/models/config.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { type FactsTrainingRecord, modelCard, retimedRun } from './facts-model-card.js';

const args = process.argv.slice(2);
const retimedAt = args.indexOf('--retimed');
const rerunDir = retimedAt >= 0 ? args[retimedAt + 1] : undefined;
if (retimedAt >= 0 && rerunDir === undefined) throw new Error('--retimed needs the folder of the run to record');
const positional = args.filter((_, i) => retimedAt < 0 || (i !== retimedAt && i !== retimedAt + 1));
const dir = path.resolve(positional[0] ?? defaultModelDir());
const readRecord = (folder: string) => JSON.parse(fs.readFileSync(path.join(folder, 'training.json'), 'utf8')) as FactsTrainingRecord;
const record = readRecord(dir);
if (rerunDir !== undefined) {
  record.retimed = retimedRun(record, readRecord(rerunDir), fs.statSync(path.join(rerunDir, 'training.json')).mtime);
  writeFileAtomic(path.join(dir, 'training.json'), [Buffer.from(`${JSON.stringify(record, null, 2)}\n`)]);
}
writeFileAtomic(path.join(dir, 'README.md'), [Buffer.from(modelCard(record, readConfig(dir)))]);
console.log(`wrote ${path.join(dir, 'README.md')}`);
