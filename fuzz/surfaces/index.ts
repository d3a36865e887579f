/** Every surface elder takes outside input through, in the order `npm run fuzz` reports them. */
import type { Surface } from '../harness.js';
import type { Workspace } from '../workspace.js';
import { configSurface, datasetSurface, editsSurface, safetensorsSurface, tokenizerSurface } from './files.js';
import { httpSurface } from './http.js';
import { stateSurface } from './state.js';

/** Surfaces by name, built only when run (the HTTP one starts a server, the state one trains a state). */
export const SURFACES: ReadonlyArray<{ name: string; create: (ws: Workspace) => Surface<any> | Promise<Surface<any>> }> = [
  { name: 'config.json', create: configSurface },
  { name: 'model.safetensors', create: safetensorsSurface },
  { name: 'tokenizer.json', create: tokenizerSurface },
  { name: 'edits JSONL', create: editsSurface },
  { name: 'benchmark files', create: datasetSurface },
  { name: 'state folder', create: stateSurface },
  { name: 'HTTP', create: httpSurface },
];
