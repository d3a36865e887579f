import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { bf16ToF32, f16ToF32, f32ToBf16Bits, f32ToF16Bits } from '../src/models/dtype.js';
import { encodeSafetensors, SafetensorsFile, writeSafetensors } from '../src/models/safetensors.js';
import { CheckpointError, UnsupportedError } from '../src/util/errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-st-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

test('F16 conversion round-trips every finite half value and rounds to nearest even', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const floats = new Float32Array(65536);
  f16ToF32(new Uint8Array(all.buffer), floats, 0, 65536);
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(floats[h])) continue;
    assert.equal(f32ToF16Bits(floats[h]), h, `half 0x${h.toString(16)}`);
  }
  assert.equal(f32ToF16Bits(1), 0x3c00);
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(70000), 0x7c00); // overflow → +Inf
  assert.equal(f32ToF16Bits(1 + 2 ** -11), 0x3c00); // halfway: ties to even
  assert.equal(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(f32ToF16Bits(2 ** -25), 0); // below half the smallest subnormal
  assert.ok(Number.isNaN(floats[f32ToF16Bits(NaN)]));
});

test('BF16 conversion keeps the top half of the float32, rounding to nearest even', () => {
  const values = [1, -2.5, 3.140625, 1e-30, 65504];
  const bits = Uint16Array.from(values.map(f32ToBf16Bits));
  const back = new Float32Array(values.length);
  bf16ToF32(new Uint8Array(bits.buffer), back, 0, values.length);
  for (let i = 0; i < values.length; i++) assert.ok(Math.abs(back[i] - values[i]) <= Math.abs(values[i]) * 2 ** -8);
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
});

test('written files read back exactly, with metadata and 8-byte aligned data', () => {
  const file = path.join(tmp, 'a.safetensors');
  const a = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
  const b = { data: Float32Array.from([-1.5]), shape: [1] };
  writeSafetensors(file, { a, b }, { metadata: { who: 'test' } });
  const opened = SafetensorsFile.open(file);
  assert.deepEqual(opened.metadata, { who: 'test' });
  assert.deepEqual(Array.from(opened.read('a').data), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(opened.read('b').shape, [1]);
  opened.close();
  const headerLength = Number(fs.readFileSync(file).readBigUInt64LE(0));
  assert.equal((8 + headerLength) % 8, 0);
});

test('malformed files fail with a CheckpointError naming the file and the problem', () => {
  const good = Buffer.concat(encodeSafetensors({ w: { data: new Float32Array(16), shape: [4, 4] } }));
  const cases: Array<[string, Buffer, RegExp]> = [
    ['tiny', Buffer.from([1, 2, 3]), /not a safetensors file/],
    ['huge-header', Buffer.concat([Buffer.from([255, 255, 255, 255, 0, 0, 0, 0]), Buffer.alloc(16)]), /corrupt safetensors header/],
    ['truncated', good.subarray(0, good.length - 10), /truncated/],
    [
      'bad-json',
      (() => {
        const c = Buffer.from(good);
        c[9] = 0x7b;
        c[10] = 0x7b;
        return c;
      })(),
      /not valid JSON/,
    ],
  ];
  for (const [name, bytes, pattern] of cases) {
    const file = path.join(tmp, `${name}.safetensors`);
    fs.writeFileSync(file, bytes);
    assert.throws(
      () => SafetensorsFile.open(file),
      (error: unknown) => error instanceof CheckpointError && pattern.test(error.message) && error.message.includes(file),
      name,
    );
  }
  assert.throws(() => SafetensorsFile.open(path.join(tmp, 'absent.safetensors')), /file not found/);
});

test('unsupported dtypes and inconsistent offsets are named', () => {
  const header = (entry: object) => {
    const json = Buffer.from(JSON.stringify({ w: entry }));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([prefix, json, Buffer.alloc(64)]);
  };
  const int8 = path.join(tmp, 'int8.safetensors');
  fs.writeFileSync(int8, header({ dtype: 'I8', shape: [4], data_offsets: [0, 4] }));
  assert.throws(
    () => SafetensorsFile.open(int8),
    (e: unknown) => e instanceof UnsupportedError && /unsupported dtype I8/.test((e as Error).message),
  );
  const wrong = path.join(tmp, 'wrong.safetensors');
  fs.writeFileSync(wrong, header({ dtype: 'F32', shape: [4, 4], data_offsets: [0, 32] }));
  assert.throws(() => SafetensorsFile.open(wrong), /needs 64 bytes, offsets give 32/);
});
