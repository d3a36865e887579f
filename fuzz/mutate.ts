/**
 * Arbitraries that damage a valid document the ways files get damaged or
 * forged: a JSON value replaced by junk or a hostile value, a key deleted,
 * the text cut short, a bit flipped, bytes inserted (invalid UTF-8 included).
 */
import fc from 'fast-check';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = Array<string | number>;

/** Values chosen to break parsers that trust their input. */
const HOSTILE: Json[] = [
  null,
  true,
  false,
  0,
  -1,
  -0,
  1e308,
  -1e308,
  2 ** 53 + 2,
  0.5,
  4294967297,
  '',
  ' ',
  '\u0000',
  '💥',
  'a'.repeat(10_000),
  '__proto__',
  'constructor',
  [],
  {},
  [[[[[[[[]]]]]]]],
  { __proto__: { polluted: true } } as unknown as Json,
  'NaN',
  'Infinity',
  '-1',
  '1e999',
];

function pathsOf(value: Json, limit: number, path: Path = [], out: Path[] = []): Path[] {
  if (out.length >= limit) return out;
  if (path.length > 0) out.push(path);
  if (Array.isArray(value))
    value.slice(0, 8).forEach((v, i) => {
      pathsOf(v, limit, [...path, i], out);
    });
  else if (value !== null && typeof value === 'object') for (const key of Object.keys(value).slice(0, 40)) pathsOf(value[key], limit, [...path, key], out);
  return out;
}

function setAt(root: Json, path: Path, replacement: Json | undefined): Json {
  const copy = structuredClone(root);
  let parent: any = copy;
  for (const key of path.slice(0, -1)) parent = parent[key];
  const last = path[path.length - 1];
  if (replacement === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else if (last === '__proto__') {
    Object.defineProperty(parent, last, { value: replacement, enumerable: true, writable: true, configurable: true });
  } else {
    parent[last] = replacement;
  }
  return copy;
}

export interface Damage {
  kind: string;
  bytes: Uint8Array;
}

/** The document damaged once, as the bytes a file would hold. */
export function damagedJson(base: unknown, options: { pathLimit?: number; serialize?: (value: unknown) => string } = {}): fc.Arbitrary<Damage> {
  const serialize = options.serialize ?? ((value: unknown) => JSON.stringify(value, null, 2));
  const root = base as Json;
  const paths = pathsOf(root, options.pathLimit ?? 400);
  const text = Buffer.from(serialize(root));
  const structural = fc.oneof(
    fc
      .record({ path: fc.constantFrom(...paths), value: fc.oneof(fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>, fc.constantFrom(...HOSTILE)) })
      .map(({ path, value }) => ({
        kind: `replace ${path.join('.')}`,
        bytes: Buffer.from(serialize(setAt(root, path, value))),
      })),
    fc.constantFrom(...paths).map((path) => ({ kind: `delete ${path.join('.')}`, bytes: Buffer.from(serialize(setAt(root, path, undefined))) })),
  );
  return fc.oneof({ weight: 3, arbitrary: structural }, { weight: 1, arbitrary: damagedBytes(text) });
}

/** Byte-level damage: cut, bit flip, inserted junk, or emptied. Every case gets its own copy. */
export function damagedBytes(original: Uint8Array): fc.Arbitrary<Damage> {
  // A Buffer's slice() is a view, not a copy: damage would pile up in the original.
  const bytes = new Uint8Array(original);
  const n = Math.max(1, bytes.length);
  return fc.oneof(
    fc.integer({ min: 0, max: n - 1 }).map((at) => ({ kind: `cut at ${at}`, bytes: new Uint8Array(bytes.subarray(0, at)) })),
    fc.record({ at: fc.integer({ min: 0, max: n - 1 }), bit: fc.integer({ min: 0, max: 7 }) }).map(({ at, bit }) => {
      const copy = new Uint8Array(bytes);
      if (copy.length > 0) copy[at] ^= 1 << bit;
      return { kind: `flip bit ${bit} of byte ${at}`, bytes: copy };
    }),
    fc.record({ at: fc.integer({ min: 0, max: n }), junk: fc.uint8Array({ minLength: 1, maxLength: 16 }) }).map(({ at, junk }) => ({
      kind: `insert ${junk.length} bytes at ${at}`,
      bytes: Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]),
    })),
    fc.constant({ kind: 'empty', bytes: new Uint8Array(0) }),
  );
}
