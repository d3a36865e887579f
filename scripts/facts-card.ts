/**
 * `npm run facts:card [-- DIR]`: rewrites a trained elder-facts folder's
 * model card (README.md) from its own training record and config.json, as
 * `npm run train:facts` writes it at the end of training.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readConfig } from '../src/models/config.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { type FactsTrainingRecord, modelCard } from './facts-model-card.js';

const dir = path.resolve(process.argv[2] ?? defaultModelDir());
const record = JSON.parse(fs.readFileSync(path.join(dir, 'training.json'), 'utf8')) as FactsTrainingRecord;
writeFileAtomic(path.join(dir, 'README.md'), [Buffer.from(modelCard(record, readConfig(dir)))]);
console.log(`wrote ${path.join(dir, 'README.md')}`);
