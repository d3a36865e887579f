import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEditor, type MethodSettings } from '../src/editors/registry.js';
import { loadModel } from '../src/models/load.js';
import { UsageError } from '../src/util/errors.js';
import { tinyGpt2Dir } from './helpers.js';

test("a method's settings are its configuration's fields: a misspelled name fails to compile and is refused by name; a value of another type or a non-finite number is refused", () => {
  const { model } = loadModel(tinyGpt2Dir);
  // @ts-expect-error "epsInitial" is not a GRACE setting (epsInit is).
  const misspelled: MethodSettings = { grace: { epsInitial: 3 } };
  assert.throws(
    () => createEditor('grace', model, misspelled),
    (e: Error) => e instanceof UsageError && /^unknown setting "epsInitial" for grace \(known: site, block, epsInit, lr, iterations\)$/.test(e.message),
  );
  // Settings read from a file (bench-edit --settings) arrive untyped.
  const fromFile = (json: string) => JSON.parse(json) as MethodSettings;
  assert.throws(() => createEditor('lora', model, fromFile('{"lora": {"lr": "0.01"}}')), /^UsageError: setting lora\.lr must be a finite number, got "0\.01"$/);
  assert.throws(() => createEditor('lora', model, { lora: { lr: Number.NaN } }), /^UsageError: setting lora\.lr must be a finite number, got NaN$/);
  assert.throws(() => createEditor('ft-l', model, { 'ft-l': { lr: Number.POSITIVE_INFINITY } }), /must be a finite number, got Infinity$/);
  assert.equal((createEditor('grace', model, { grace: { epsInit: 3 } }).config as { epsInit: number }).epsInit, 3);
});
