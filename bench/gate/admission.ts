/**
 * What ELDER's subject gate admits, with no training: the gate reads states
 * below every expert, so which held-out rephrasing reaches its own edit, and
 * which other fact reaches some edit, is fixed by the stored edits alone.
 * For the first N records of elder-facts' COUNTERFACT benchmark, every edit
 * is remembered as the editor remembers it; then, per query radius, each
 * held-out rephrasing (split by whether the base model answers it with the
 * true object) and each other fact's prompt is matched, and each miss is
 * put down to the query radius, the subject radius, or both.
 *
 * The gate's settings are elder's; `--settings` changes them (the span
 * subject test: `'{"subjectTest": "span"}'`).
 *
 *   node dist/bench/gate/admission.js [--records 1000] [--radii 0.45,0.5,0.55] [--templates 0.5] [--settings '{"scatterShrinkage": 0.1}']
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { scoreTargets } from '../../src/editors/common/scoring.js';
import { tokenizeEdit } from '../../src/editors/edit.js';
import { Codebook } from '../../src/editors/elder/codebook.js';
import { elderConfig } from '../../src/editors/elder/config.js';
import { ElderCore } from '../../src/editors/elder/core.js';
import { type EditMemory, memoryOf, promptPass } from '../../src/editors/elder/frozen.js';
import { GATES } from '../../src/editors/elder/gates/index.js';
import { gateEntryOf } from '../../src/editors/elder/gates/subject-gate.js';
import { type GateSettings, SubjectIndex } from '../../src/editors/elder/gates/subject-index.js';
import { readDataset } from '../../src/eval/datasets.js';
import { buildStream } from '../../src/eval/protocol.js';
import { defaultModelDir } from '../../src/models/default-model.js';
import { loadModel } from '../../src/models/load.js';
import { packageRoot } from '../../src/tensor/backends/native.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { records: { type: 'string' }, radii: { type: 'string' }, settings: { type: 'string' }, templates: { type: 'string' } },
});
const records = Number(values.records ?? 1000);
const radii = (values.radii ?? '0.4,0.45,0.5,0.55,0.6').split(',').map(Number);
/** Also list the held-out templates admitted least at this radius. */
const templateRadius = values.templates === undefined ? null : Number(values.templates);
const settings = JSON.parse(values.settings ?? '{}') as Record<string, unknown>;

const { model, tokenizer } = loadModel(defaultModelDir());
const tok = tokenizer!;
const { records: all } = readDataset(path.join(packageRoot(), 'bench', 'data', 'facts', 'counterfact.json'), 'counterfact');
const { stream } = buildStream(all, records);
const config = elderConfig(model.config, { gate: 'subject', ...settings });
if (config.gate.kind !== 'subject') throw new Error('this study reads the subject gate');
const core = new ElderCore(model, config.core);
const memories: EditMemory[] = [];
const view = { codebook: new Codebook(core.codeWords), retracted: new Codebook(core.codeWords), liveMemories: () => memories };
const gate = GATES.subject.create(config.gate, core, view);

const edits = stream.flatMap((r) => r.edits.map((e) => tokenizeEdit(tok, model.config, e)));
for (const edit of edits) memories.push(memoryOf(core, gate, edit, false));
const gateSettings = config.gate as unknown as GateSettings;
const labelOf = new Map(memories.map((m) => [m.id, m.label]));

interface Probe {
  label: string | null;
  ids: number[];
  understood?: boolean;
  /** The phrasing with its subject replaced by {}. */
  template?: string;
}
const heldOut: Probe[] = stream.flatMap((r) =>
  r.heldOut.map((prompt) => ({ label: r.id, ids: tok.encode(prompt), template: r.subject === undefined ? prompt : prompt.replace(r.subject, '{}') })),
);
// Asked for the fact as it was, tokenized as bench-edit tokenizes it, which of them does the base model understand?
const understood = scoreTargets(
  model,
  null,
  stream.flatMap((r) => r.heldOut.map((prompt) => tokenizeEdit(tok, model.config, { id: r.id, label: r.id, prompt, target: r.trueTarget! }))),
).correct;
heldOut.forEach((p, i) => {
  p.understood = understood[i];
});
const otherFacts: Probe[] = stream.flatMap((r) => r.locality.filter((l) => l.answer !== undefined).map((l) => ({ label: null, ids: tok.encode(l.prompt) })));

/** Gate inputs of every probe, in chunks. */
function inputsOf(probes: readonly Probe[]): Array<{ query: Float32Array; tokens: Float32Array }> {
  const out: Array<{ query: Float32Array; tokens: Float32Array }> = [];
  for (let start = 0; start < probes.length; start += 64) {
    const chunk = probes.slice(start, start + 64);
    const { inputs } = promptPass(
      core,
      gate,
      chunk.map((p) => p.ids),
    );
    const { gateQueries, tokenStates } = inputs as { gateQueries: Tensor; tokenStates: Float32Array[] };
    const width = gateQueries.lastDim;
    chunk.forEach((_, b) => {
      out.push({ query: gateQueries.data.slice(b * width, (b + 1) * width), tokens: tokenStates[b] });
    });
  }
  return out;
}
const heldOutInputs = inputsOf(heldOut);
const otherInputs = inputsOf(otherFacts);

const pct = (n: number, of: number) => (of === 0 ? '–' : ((100 * n) / of).toFixed(1));

/** How far phrasings of one fact lie apart at the gate query, relative to the query's norm (the scale training noise would need to cover). */
function relativeDistance(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let j = 0; j < a.length; j++) {
    d += (a[j] - b[j]) ** 2;
    n += a[j] ** 2;
  }
  return Math.sqrt(d / n);
}
const median = (values: number[]) => [...values].sort((x, y) => x - y)[values.length >> 1] ?? NaN;
const byLabel = new Map<string, Float32Array[]>();
for (const m of memories) byLabel.set(m.label, [...(byLabel.get(m.label) ?? []), m.keys.gateQuery!]);
const editedSpread = [...byLabel.values()].filter((qs) => qs.length >= 2).map((qs) => relativeDistance(qs[0], qs[1]));
const heldOutSpread = heldOut.flatMap((probe, i) => {
  const own = byLabel.get(probe.label!) ?? [];
  return own.length === 0 ? [] : [Math.min(...own.map((q) => relativeDistance(q, heldOutInputs[i].query)))];
});
console.log(
  `Gate queries, distance relative to the query's norm (median): between a fact's two edited phrasings ${median(editedSpread).toFixed(3)}; from a held-out rephrasing to its fact's nearest edited one ${median(heldOutSpread).toFixed(3)}\n`,
);
console.log(
  `Subject gate on the first ${stream.length} records (${memories.length} edits stored), ${heldOut.length} held-out rephrasings (${understood.filter(Boolean).length} understood), ${otherFacts.length} other facts; settings ${JSON.stringify(settings)}`,
);
console.log(
  '| Radius | Own edit, all | Understood | Not understood | Another edit | None | Own: query outside | Own: subject far | Own: both | Other facts admitted |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const templateTables: Array<{ radius: number; byTemplate: Map<string, { own: number; count: number; subjectFar: number }> }> = [];
for (const radius of radii) {
  const index = SubjectIndex.build(memories.map(gateEntryOf), { ...gateSettings, queryRadius: radius });
  let own = 0;
  let ownUnderstood = 0;
  let ownNot = 0;
  let another = 0;
  let none = 0;
  const why = { query: 0, subject: 0, both: 0 };
  const byTemplate = new Map<string, { own: number; count: number; subjectFar: number }>();
  const matchOf = (query: Float32Array, tokens: Float32Array) => index.match(query, tokens);
  heldOut.forEach((probe, i) => {
    const { query, tokens } = heldOutInputs[i];
    const matched = matchOf(query, tokens);
    const tally = byTemplate.get(probe.template!) ?? { own: 0, count: 0, subjectFar: 0 };
    byTemplate.set(probe.template!, tally);
    tally.count++;
    if (matched !== null && labelOf.get(matched) === probe.label) {
      tally.own++;
      own++;
      if (probe.understood) ownUnderstood++;
      else ownNot++;
      return;
    }
    if (matched === null) none++;
    else another++;
    // Why its own edits did not match: the nearest of them by query distance.
    const queryDistance = index.queryDistances(query);
    let best = -1;
    memories.forEach((m, j) => {
      if (m.label === probe.label && (best < 0 || queryDistance[j] < queryDistance[best])) best = j;
    });
    const outside = queryDistance[best] >= 1;
    const far = !index.subjectsNear(tokens)[best];
    if (far) tally.subjectFar++;
    if (outside && far) why.both++;
    else if (outside) why.query++;
    else if (far) why.subject++;
  });
  const otherAdmitted = otherInputs.filter(({ query, tokens }) => matchOf(query, tokens) !== null).length;
  const understoodCount = understood.filter(Boolean).length;
  console.log(
    `| ${radius} | ${pct(own, heldOut.length)} | ${pct(ownUnderstood, understoodCount)} | ${pct(ownNot, heldOut.length - understoodCount)} | ${pct(another, heldOut.length)} | ${pct(none, heldOut.length)} | ${pct(why.query, heldOut.length)} | ${pct(why.subject, heldOut.length)} | ${pct(why.both, heldOut.length)} | ${pct(otherAdmitted, otherFacts.length)} |`,
  );
  if (radius === templateRadius) templateTables.push({ radius, byTemplate });
}
for (const { radius, byTemplate } of templateTables) {
  console.log(`\nHeld-out templates admitted least to their own edit at radius ${radius}:`);
  console.log('| Template | Rephrasings | Own edit | Own subject far |');
  console.log('|---|---:|---:|---:|');
  const rows = [...byTemplate].sort((a, b) => a[1].own / a[1].count - b[1].own / b[1].count).slice(0, 16);
  for (const [template, t] of rows) console.log(`| \`${template}\` | ${t.count} | ${pct(t.own, t.count)} | ${pct(t.subjectFar, t.count)} |`);
}
