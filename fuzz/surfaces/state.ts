/**
 * The state folder: a real state (two committed batches, a retraction), then
 * one damage per case: the journal cut anywhere, a bit flipped in any file, a
 * file removed, an extra generation or temporary file, a stale or a live lock.
 * Opening the damaged copy must fail with a clear error, or open to exactly
 * what was stored, or to a documented recovery: a cut journal loses its torn
 * tail, and nothing else. Anything else is a silent change.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { tokenizeEdit } from '../../src/editors/edit.js';
import { ElderState } from '../../src/editors/elder/store/state.js';
import { loadModel } from '../../src/models/load.js';
import { requireTokenizer } from '../../src/models/tokenizer.js';
import { type CaseResult, classifyError, type Surface } from '../harness.js';
import type { Workspace } from '../workspace.js';

type StateDamage =
  | { kind: 'cut journal'; at: number }
  | { kind: 'flip'; file: string; at: number; bit: number }
  | { kind: 'remove'; file: string }
  | { kind: 'extra'; file: string; bytes: Uint8Array }
  | { kind: 'lock'; live: boolean };

/** What an opened state holds that must not change silently: settings, every edit's status and allocation, the weights. */
function viewOf(state: ElderState): string {
  const edits = [...state.files.edits.values()].map((e) => [e.id, e.status, e.label, e.code, e.generation].join(':'));
  return JSON.stringify({ config: state.editor.config, generation: state.files.weights.generation, weights: state.files.weights.sha256, edits });
}

/**
 * The edits of the records before byte `at`: complete lines, and a last record
 * cut just before its newline (whole, so kept); a torn one is dropped.
 */
function journalPrefixIds(journal: Buffer, at: number): string[] {
  const text = journal.subarray(0, at).toString('utf8');
  const lines = text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l !== '');
  const tail = text.slice(text.lastIndexOf('\n') + 1);
  if (at < journal.length && journal[at] === 0x0a && tail !== '') lines.push(tail);
  const status = new Map<string, string>();
  for (const line of lines) {
    const record = JSON.parse(line) as { type: string; id?: string; edits?: Array<{ id: string }> };
    if (record.type === 'batch') for (const edit of record.edits ?? []) status.set(edit.id, 'applied');
    if (record.type === 'retract' && record.id !== undefined) status.set(record.id, 'retracted');
  }
  return [...status].map(([id, s]) => `${id}:${s}`).sort();
}

export function stateSurface(ws: Workspace): Surface<StateDamage> {
  const { model, tokenizer } = loadModel(ws.modelDir);
  const tok = requireTokenizer(tokenizer, ws.modelDir);
  const original = path.join(ws.root, 'state');
  const options = { modelName: 'fuzz', overrides: { iterations: 2, batchSize: 2, replay: 1 } };
  const state = ElderState.open(original, model, options);
  const edits = ['Norway', 'Chile', 'Kenya', 'Japan'].map((subject, i) =>
    tokenizeEdit(tok, model.config, {
      id: subject.toLowerCase(),
      label: subject,
      prompt: `The capital of ${subject} is`,
      target: ['Bergen', 'Lima', 'Oslo', 'Paris'][i],
      subject,
    }),
  );
  state.applyBatch(edits.slice(0, 2));
  state.applyBatch(edits.slice(2));
  state.retract('chile');
  const expected = viewOf(state);
  state.close();
  const files = fs.readdirSync(original).filter((f) => fs.statSync(path.join(original, f)).isFile());
  const sizes = new Map(files.map((f) => [f, fs.statSync(path.join(original, f)).size]));
  const journal = fs.readFileSync(path.join(original, 'journal.jsonl'));

  const arbitrary: fc.Arbitrary<StateDamage> = fc.oneof(
    fc.integer({ min: 0, max: journal.length }).map((at) => ({ kind: 'cut journal' as const, at })),
    fc.constantFrom(...files).chain((file) =>
      fc.record({
        kind: fc.constant('flip' as const),
        file: fc.constant(file),
        at: fc.integer({ min: 0, max: Math.max(0, sizes.get(file)! - 1) }),
        bit: fc.integer({ min: 0, max: 7 }),
      }),
    ),
    fc.constantFrom(...files).map((file) => ({ kind: 'remove' as const, file })),
    fc.record({
      kind: fc.constant('extra' as const),
      file: fc.constantFrom('adapters-000007.safetensors', 'adapters-999999.safetensors', '.adapters-000003.safetensors.tmp', '.journal.jsonl.tmp'),
      bytes: fc.uint8Array({ maxLength: 64 }),
    }),
    fc.boolean().map((live) => ({ kind: 'lock' as const, live })),
  );

  return {
    name: 'state folder',
    arbitrary,
    run(damage): CaseResult {
      const dir = ws.scratch('state');
      fs.cpSync(original, dir, { recursive: true });
      let recovery: ((opened: string) => boolean) | null = null;
      switch (damage.kind) {
        case 'cut journal':
          fs.truncateSync(path.join(dir, 'journal.jsonl'), damage.at);
          recovery = (opened) => {
            const ids = (JSON.parse(opened) as { edits: string[] }).edits.map((e) => e.split(':').slice(0, 2).join(':')).sort();
            return JSON.stringify(ids) === JSON.stringify(journalPrefixIds(journal, damage.at));
          };
          break;
        case 'flip': {
          const file = path.join(dir, damage.file);
          const bytes = fs.readFileSync(file);
          if (bytes.length > 0) bytes[damage.at] ^= 1 << damage.bit;
          fs.writeFileSync(file, bytes);
          break;
        }
        case 'remove':
          fs.rmSync(path.join(dir, damage.file));
          break;
        case 'extra':
          // Leftovers are removed or ignored: the state must open exactly as stored (no other recovery).
          fs.writeFileSync(path.join(dir, damage.file), damage.bytes);
          break;
        case 'lock':
          // A live holder: this process's parent; a stale one: a pid no process has.
          fs.writeFileSync(path.join(dir, 'state.lock'), String(damage.live ? process.ppid : 2 ** 22 + 12345));
          break;
      }
      let result: CaseResult;
      try {
        const opened = ElderState.open(dir, model, { modelName: 'fuzz' });
        const view = viewOf(opened);
        opened.close();
        if (view === expected) result = { outcome: damage.kind === 'extra' || (damage.kind === 'lock' && !damage.live) ? 'recovered' : 'accepted' };
        else if (recovery?.(view)) result = { outcome: 'recovered' };
        else result = { outcome: 'silent change', detail: `${damage.kind}: opened to a different state` };
        if (damage.kind === 'lock' && damage.live) result = { outcome: 'silent change', detail: 'opened a state locked by a live process' };
      } catch (error) {
        result = classifyError(error);
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}
