import { GATES, gateKindOf } from '../../editors/elder/gates/index.js';
import { StateFiles } from '../../editors/elder/store/state.js';
import { type CommandSpec, parseOptions, requireString } from '../args.js';

export const STATE_COMMAND: CommandSpec = {
  name: 'state',
  summary: "A state's settings, generation and edits, with whether each held at its latest check.",
  options: {
    state: { type: 'string', value: 'DIR', help: 'the ELDER state folder', required: true },
    json: { type: 'boolean', help: 'print JSON' },
  },
};

export function stateCommand(argv: string[]): void {
  const options = parseOptions(argv, STATE_COMMAND);
  const stateDir = requireString(options, 'state', 'state');
  const files = StateFiles.read(stateDir, false);
  const edits = [...files.edits.values()];
  const applied = edits.filter((e) => e.status === 'applied').length;
  const holding = edits.filter((e) => e.status === 'applied' && e.holds === true).length;
  const notHolding = edits.filter((e) => e.status === 'applied' && e.holds === false).length;
  if (options.values.json) {
    console.log(JSON.stringify({ config: files.elder, base: files.config.base, generation: files.weights.generation, codebookSize: applied, edits }));
    return;
  }
  const { preset, core: c, training: t, rehearsal: r, gate } = files.elder;
  console.log(`state      ${stateDir}`);
  console.log(
    `base       ${files.config.base.name} (${files.config.base.architecture}, ${files.config.base.layers} layers, fingerprint ${files.config.base.weightsSha256.slice(0, 12)})`,
  );
  console.log(
    `elder      ${preset} preset: ${c.site} in blocks ${c.firstBlock}-${c.lastBlock}, ${c.experts} experts of rank ${c.rank} (α ${c.alpha}), top-${c.topK}, λ ${c.lambda}, ε ${c.epsilon}`,
  );
  // A folder written by a later elder may name a gate this one lacks.
  const gateText = GATES[gate.kind] === undefined ? gate.kind : gateKindOf(gate).describe(gate);
  console.log(`routing    ${gateText}; ${r.freshCodes ? 'fresh codes' : 'codes as their batch left them'}`);
  const spanless = edits.filter((e) => e.status === 'applied' && e.subjectEnd !== undefined && e.subjectStart === undefined).length;
  if (gate.kind === 'subject' && gate.subjectTest === 'span' && spanless > 0)
    console.log(`           ${spanless} applied edits were journaled before subject spans were kept: the span test reads only their subject's last token`);
  console.log(
    `training   lr ${t.lr}, batch ${t.batchSize}, ${t.iterations} iterations${t.earlyStop ? ', early stop' : ''}, replay ${r.replay}, ${t.trainRouting} routing, seed ${c.seed}`,
  );
  console.log(
    `edits      ${edits.length} (${applied} applied, ${edits.length - applied} retracted); codebook ${applied} codes; weights generation ${files.weights.generation}`,
  );
  console.log(`holds      ${holding} applied edits held at their latest check, ${notHolding} did not, ${applied - holding - notHolding} never checked`);
  if (edits.length === 0) return;
  const idWidth = Math.max(2, ...edits.map((e) => e.id.length));
  console.log(`\n${'id'.padEnd(idWidth)}  status     holds                 experts per layer             prompt → target: answer at the check`);
  for (const e of edits) {
    const holds = e.holds === undefined ? 'unchecked' : `${e.holds ? 'yes' : 'NO'} (gen ${e.checkedGeneration})`;
    const answer = e.answer === undefined ? '' : `: ${JSON.stringify(e.answer)}`;
    console.log(
      `${e.id.padEnd(idWidth)}  ${e.status.padEnd(9)}  ${holds.padEnd(20)}  ${JSON.stringify(e.experts).padEnd(28)}  ${JSON.stringify(e.prompt)} → ${JSON.stringify(e.target)}${answer}`,
    );
  }
}
