import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocate, BufferPool, capacityClass, withBufferPool } from '../src/tensor/buffers.js';
import { Random } from '../src/util/random.js';

test('capacity classes round up by at most an eighth', () => {
  for (const length of [1, 16, 17, 100, 1000, 4097, 123_457]) {
    const capacity = capacityClass(length);
    assert.ok(capacity >= length);
    assert.ok(length <= 16 || capacity <= length * 1.125, `${length} → ${capacity}`);
  }
});

test('a pooled buffer comes back zeroed, at the asked length, reused within its class', () => {
  const pool = new BufferPool();
  const first = withBufferPool(pool, () => {
    const b = allocate(1000);
    b.fill(7);
    return b.buffer;
  });
  const again = withBufferPool(pool, () => {
    const b = allocate(1010);
    assert.equal(b.length, 1010);
    assert.ok(b.every((v) => v === 0));
    return b.buffer;
  });
  assert.equal(again, first);
  // Outside a pool scope nothing is pooled.
  assert.notEqual(allocate(1000).buffer, first);
});

test('a smaller request reuses a larger free buffer up to twice its class, not beyond', () => {
  const pool = new BufferPool();
  const big = withBufferPool(pool, () => allocate(3000).buffer);
  assert.equal(
    withBufferPool(pool, () => allocate(1600).buffer),
    big,
  );
  assert.notEqual(
    withBufferPool(pool, () => allocate(1000).buffer),
    big,
  );
});

test('the pool stays near the size of one iteration when lengths change every iteration', () => {
  const pool = new BufferPool();
  const rng = new Random(3);
  let largestIteration = 0;
  for (let iteration = 0; iteration < 300; iteration++) {
    withBufferPool(pool, () => {
      let floats = 0;
      for (let i = 0; i < 6; i++) {
        const length = 1000 + Math.floor(rng.uniform() * 3000);
        allocate(length);
        floats += length;
      }
      largestIteration = Math.max(largestIteration, floats);
    });
  }
  assert.ok(pool.heldFloats <= 2.5 * largestIteration, `pool holds ${pool.heldFloats} floats for iterations of at most ${largestIteration}`);
});
