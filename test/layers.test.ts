import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';

/**
 * The source's layers, lowest first. A module may import from its own group
 * and from lower layers, never from a higher layer or from another group of
 * its own layer. A group is one or more folders or files under src/ (the
 * longest path that contains a module gives its group), named by its first.
 */
const EDITORS_SHARED = ['editors/common', 'editors/edit.ts', 'editors/editor.ts', 'editors/ending.ts', 'editors/edits-file.ts'];
const LAYERS: readonly (readonly (string | readonly string[])[])[] = [
  ['util', 'text', 'plot'],
  ['tensor'],
  ['models'],
  ['train'],
  [EDITORS_SHARED],
  ['editors/locate'],
  ['editors/baselines', 'editors/elder'],
  ['editors/elder/store', 'editors/registry.ts'],
  ['facts'],
  ['eval'],
  ['server'],
  ['cli'],
  ['index.ts'],
];

const srcDir = path.join(repoRoot, 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The group holding a module (its path under src/), and its layer. */
function placeOf(relative: string): { group: string; layer: number } {
  let best: { group: string; layer: number; length: number } | null = null;
  LAYERS.forEach((groups, layer) => {
    for (const group of groups) {
      const paths = typeof group === 'string' ? [group] : group;
      for (const p of paths) {
        const holds = relative === p || relative.startsWith(`${p}/`);
        if (holds && (best === null || p.length > best.length)) best = { group: paths[0], layer, length: p.length };
      }
    }
  });
  if (best === null) throw new Error(`src/${relative} is in no layer: add its folder to LAYERS`);
  const { group, layer } = best;
  return { group, layer };
}

/** Relative imports of a module, `import type` and re-exports included. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.map((spec) =>
    path
      .relative(srcDir, path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')))
      .split(path.sep)
      .join('/'),
  );
}

test('no module imports from a higher layer, or from another group of its own layer (editors below facts below eval; persistence above ELDER)', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(srcDir)) {
    const relative = path.relative(srcDir, file).split(path.sep).join('/');
    const from = placeOf(relative);
    for (const target of importsOf(file)) {
      const to = placeOf(target);
      if (to.layer > from.layer || (to.layer === from.layer && to.group !== from.group))
        violations.push(`src/${relative} (${from.group}) imports src/${target} (${to.group})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the layer check sees an upward import', () => {
  assert.ok(placeOf('eval/runner.ts').layer > placeOf('editors/elder/editor.ts').layer);
  assert.equal(placeOf('editors/elder/store/state.ts').group, 'editors/elder/store');
  assert.ok(placeOf('editors/elder/store/state.ts').layer > placeOf('editors/elder/core.ts').layer);
  assert.deepEqual(
    importsOf(path.join(srcDir, 'editors/elder/store/holds.ts')).filter((t) => t.startsWith('eval/')),
    [],
  );
});
