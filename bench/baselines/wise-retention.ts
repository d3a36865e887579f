/**
 * Where WISE loses a long stream's edits: after each batch, how many of its
 * edits hold; at the end, how many of all edits hold as served, how many
 * when every edited prompt is forced onto the live shard, and which memory
 * each edited prompt and each other fact's prompt is routed to.
 *
 *   node dist/bench/baselines/wise-retention.js [--records 50] [--settings '{"shardEdits": 10}']
 */
import { parseArgs } from 'node:util';
import type { WiseEditor, WiseRoute } from '../../src/editors/baselines/wise.js';
import { scoreTargets } from '../../src/editors/common/scoring.js';
import { createEditor } from '../../src/editors/registry.js';
import { studyStream } from './stream.js';

const { values } = parseArgs({ args: process.argv.slice(2), options: { records: { type: 'string' }, settings: { type: 'string' } } });
const records = Number(values.records ?? 50);
const settings = JSON.parse(values.settings ?? '{}') as Record<string, number>;
const { model, edits, otherFacts } = studyStream(records);
const wise = createEditor('wise', model, { wise: settings }).editor as WiseEditor;

const count = (held: readonly boolean[]) => held.filter(Boolean).length;
let heldAfterBatch = 0;
for (let start = 0; start < edits.length; start += 4) {
  const batch = edits.slice(start, start + 4);
  wise.applyBatch(batch);
  heldAfterBatch += count(scoreTargets(model, wise, batch).correct);
}
const routeOf = (ids: readonly number[]): WiseRoute => {
  const session = wise.session(Int32Array.of(ids.length - 1));
  model.hiddenStates(Int32Array.from(ids), 1, ids.length, { hooks: session.hooks('prompt') });
  return session.decision[0];
};
const tally = (routes: readonly WiseRoute[]) => Object.fromEntries(['main', 'merged', 'live'].map((r) => [r, routes.filter((x) => x === r).length]));
const held = scoreTargets(model, wise, edits).correct;
const served = wise.routes.bind(wise);
wise.routes = (changes, rows, steps) => served(changes, rows, steps).map(() => 'live');
const forcedLive = scoreTargets(model, wise, edits).correct;
wise.routes = served;
const quarter = Math.floor(edits.length / 4);

console.log(`WISE on the first ${records} records (${edits.length} edits, batches of 4), settings ${JSON.stringify(settings)}`);
console.log(`| held after their batch | held at the end | forced onto the live shard | first quarter, at the end | threshold |`);
console.log(`|---:|---:|---:|---:|---:|`);
console.log(`| ${heldAfterBatch} | ${count(held)} | ${count(forcedLive)} | ${count(held.slice(0, quarter))} of ${quarter} | ${wise.threshold.toFixed(2)} |`);
console.log(`routes of the edited prompts: ${JSON.stringify(tally(edits.map((e) => routeOf(e.promptIds))))}`);
console.log(`routes of ${otherFacts.length} other facts' prompts: ${JSON.stringify(tally(otherFacts.map(routeOf)))}`);
