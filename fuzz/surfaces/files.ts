/** File surfaces: config.json, model.safetensors, tokenizer.json, edits JSONL and the benchmark formats. */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { expandRequests, tokenizeEdit } from '../../src/editors/edit.js';
import { parseEditsJsonl } from '../../src/editors/edits-file.js';
import { type DatasetFormat, readDataset } from '../../src/eval/datasets.js';
import { loadModel } from '../../src/models/load.js';
import { requireTokenizer } from '../../src/models/tokenizer.js';
import { attempt, type Surface } from '../harness.js';
import { type Damage, damagedBytes, damagedJson } from '../mutate.js';
import { copyModel, REPO, type Workspace } from '../workspace.js';

/** Writes the damaged file into a fresh copy of the model folder and loads it (and, with a tokenizer, encodes and decodes). */
function modelFileSurface(name: string, ws: Workspace, file: string, arbitrary: fc.Arbitrary<Damage>, withTokenizer: boolean): Surface<Damage> {
  return {
    name,
    arbitrary,
    run(damage) {
      const dir = ws.scratch(name.replace(/\W+/g, '-'));
      copyModel(ws.modelDir, dir, withTokenizer);
      fs.writeFileSync(path.join(dir, file), damage.bytes);
      const result = attempt(() => {
        const { model, tokenizer } = loadModel(dir);
        if (withTokenizer) {
          const tok = requireTokenizer(tokenizer, dir);
          const ids = tok.encode('The capital of Norway is Oslo. Ünïcödé ✓');
          if (ids.some((id) => !(id >= 0 && id < model.config.vocabSize))) throw new Error(`encoded id outside the vocabulary: ${ids.join(',')}`);
          tok.decode(ids);
        }
      });
      fs.rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}

export function configSurface(ws: Workspace): Surface<Damage> {
  const base = JSON.parse(fs.readFileSync(path.join(ws.modelDir, 'config.json'), 'utf8'));
  return modelFileSurface('config.json', ws, 'config.json', damagedJson(base), false);
}

export function tokenizerSurface(ws: Workspace): Surface<Damage> {
  const base = JSON.parse(fs.readFileSync(path.join(ws.modelDir, 'tokenizer.json'), 'utf8'));
  return {
    ...modelFileSurface('tokenizer.json', ws, 'tokenizer.json', damagedJson(base, { pathLimit: 300, serialize: (v) => JSON.stringify(v) }), true),
    hangSeconds: 10,
  };
}

/** The safetensors header (its JSON, its 8-byte length) or the whole file damaged. */
export function safetensorsSurface(ws: Workspace): Surface<Damage> {
  const bytes = fs.readFileSync(path.join(ws.modelDir, 'model.safetensors'));
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const data = bytes.subarray(8 + headerLength);
  const withHeader = (json: Uint8Array): Uint8Array => {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([prefix, json, data]);
  };
  const arbitrary: fc.Arbitrary<Damage> = fc.oneof(
    {
      weight: 3,
      arbitrary: damagedJson(header, { serialize: (v) => JSON.stringify(v) }).map((d) => ({ kind: `header: ${d.kind}`, bytes: withHeader(d.bytes) })),
    },
    {
      weight: 1,
      arbitrary: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((length: bigint) => {
        const copy = Buffer.from(bytes);
        copy.writeBigUInt64LE(length, 0);
        return { kind: `header length ${length}`, bytes: copy };
      }),
    },
    // Anywhere in the file: a flipped bit among the weights loads (safetensors has no checksum); in the header it must not crash.
    { weight: 1, arbitrary: damagedBytes(bytes).map((d) => ({ kind: `file: ${d.kind}`, bytes: d.bytes })) },
  );
  return modelFileSurface('model.safetensors', ws, 'model.safetensors', arbitrary, false);
}

const EDIT_LINES = [
  { id: 'norway', prompt: 'The capital of Norway is', target: 'Bergen', subject: 'Norway', rephrases: ['Norway — capital:'] },
  { prompt: 'Copper has the symbol', target: 'Zz', label: 'copper' },
  { id: 'beagle', prompt: 'A beagle is a kind of', target: 'cat', rephrases: ['What is a beagle? It is a kind of', 'Beagle: a type of'] },
];

/** An edits JSONL file with one line damaged, or the whole text; accepted edits are tokenized for the model as `elder edit` does. */
export function editsSurface(ws: Workspace): Surface<Damage> {
  const { model, tokenizer } = loadModel(ws.modelDir);
  const tok = requireTokenizer(tokenizer, ws.modelDir);
  const text = `${EDIT_LINES.map((l) => JSON.stringify(l)).join('\n')}\n`;
  const arbitrary = fc.oneof(
    fc.integer({ min: 0, max: EDIT_LINES.length - 1 }).chain((line) =>
      damagedJson(EDIT_LINES[line], { serialize: (v) => JSON.stringify(v) }).map((d) => ({
        kind: `line ${line + 1}: ${d.kind}`,
        bytes: Buffer.from(`${EDIT_LINES.map((l, i) => (i === line ? Buffer.from(d.bytes).toString('utf8') : JSON.stringify(l))).join('\n')}\n`),
      })),
    ),
    damagedBytes(Buffer.from(text)),
  );
  return {
    name: 'edits JSONL',
    arbitrary,
    run: (damage) =>
      attempt(() => {
        const requests = parseEditsJsonl(Buffer.from(damage.bytes).toString('utf8'), 'fuzz.jsonl');
        for (const edit of expandRequests(requests)) tokenizeEdit(tok, model.config, edit);
      }),
  };
}

/** A benchmark file (ZsRE, COUNTERFACT or elder's JSONL) damaged, read with its format given or guessed. */
export function datasetSurface(ws: Workspace): Surface<{ format: DatasetFormat; given: boolean; damage: Damage }> {
  const take = (file: string) => (JSON.parse(fs.readFileSync(path.join(REPO, 'bench/data/facts', file), 'utf8')) as unknown[]).slice(0, 3);
  const bases: Record<DatasetFormat, { value: unknown; serialize?: (v: unknown) => string }> = {
    zsre: { value: take('zsre.json') },
    counterfact: { value: take('counterfact.json') },
    jsonl: { value: EDIT_LINES, serialize: (v) => `${(v as unknown[]).map((l) => JSON.stringify(l)).join('\n')}\n` },
  };
  const arbitrary = fc
    .constantFrom<DatasetFormat>('zsre', 'counterfact', 'jsonl')
    .chain((format) =>
      fc.record({ format: fc.constant(format), given: fc.boolean(), damage: damagedJson(bases[format].value, { serialize: bases[format].serialize }) }),
    );
  const dir = ws.scratch('datasets');
  let n = 0;
  return {
    name: 'benchmark files',
    arbitrary,
    run({ format, given, damage }) {
      const file = path.join(dir, `case-${n++}.json`);
      fs.writeFileSync(file, damage.bytes);
      const result = attempt(() => readDataset(file, given ? format : undefined));
      fs.rmSync(file, { force: true });
      return result;
    },
  };
}
