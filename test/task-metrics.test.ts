import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entityF1, exactMatch, finalNumber, finalNumberMatches, listedEntities, meanRouge, normalizeAnswer, rougeScores } from '../src/text/task-metrics.js';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

test('exact match normalises as SQuAD does: case, punctuation, articles and spaces', () => {
  assert.equal(normalizeAnswer('  The Eiffel-Tower! '), 'eiffel tower');
  assert.equal(normalizeAnswer('An apple a day'), 'apple day');
  assert.ok(exactMatch('the Eiffel Tower.', ['Paris', 'Eiffel Tower']));
  assert.ok(!exactMatch('Tower', ['Eiffel Tower']));
  assert.ok(!exactMatch('', ['Eiffel Tower']));
});

test('the final number of a generation, compared as a number', () => {
  assert.equal(finalNumber('3 + 4 = 7.'), 7);
  assert.equal(finalNumber('She had 1,234 apples'), 1234);
  assert.equal(finalNumber('it fell to -2.5 degrees'), -2.5);
  assert.equal(finalNumber('no number here'), null);
  assert.ok(finalNumberMatches(' 18. Q: what', 'She sells 16 - 3 - 4 = 9 eggs and makes 9 * 2 = 18 dollars.\n#### 18'.split('#### ')[1]));
  assert.ok(finalNumberMatches('so it is 18.0', '#### 18'));
  assert.ok(!finalNumberMatches('18 or 19', '#### 18'), 'the last number counts');
  assert.ok(!finalNumberMatches('eighteen', '#### 18'));
});

test('ROUGE-1, ROUGE-2 and ROUGE-L F1 on a worked example, and their mean', () => {
  // Candidate and reference share the, the, cat, on, mat (5 of 6 words each): ROUGE-1 5/6.
  // Bigrams: the cat, on the, the mat of 5 each: ROUGE-2 3/5. LCS "the cat on the mat": ROUGE-L 5/6.
  const scores = rougeScores('the cat sat on the mat', 'The cat is on the mat');
  close(scores.rouge1, 5 / 6, 'ROUGE-1');
  close(scores.rouge2, 3 / 5, 'ROUGE-2');
  close(scores.rougeL, 5 / 6, 'ROUGE-L');
  close(meanRouge('the cat sat on the mat', 'The cat is on the mat'), (5 / 6 + 3 / 5 + 5 / 6) / 3, 'mean');
  assert.deepEqual(rougeScores('', 'a reference'), { rouge1: 0, rouge2: 0, rougeL: 0 }, 'an empty generation scores 0');
  close(rougeScores('cat', 'the cat').rouge1, 2 / 3, 'one word: ROUGE-1 P 1, R 1/2');
  assert.equal(rougeScores('cat', 'the cat').rouge2, 0, 'one word has no bigram');
});

test('entity-level F1: type and text must both match, each gold entity once', () => {
  const gold = [
    { type: 'PER', text: 'John Smith' },
    { type: 'ORG', text: 'United Nations' },
  ];
  close(
    entityF1(
      [
        { type: 'PER', text: 'john smith' },
        { type: 'LOC', text: 'Paris' },
      ],
      gold,
    ),
    0.5,
    'one of two right, one of two found',
  );
  close(
    entityF1(
      [
        { type: 'PER', text: 'John Smith' },
        { type: 'PER', text: 'John Smith' },
      ],
      gold,
    ),
    0.5,
    'a repeated prediction matches once: P 1/2, R 1/2',
  );
  assert.equal(entityF1([{ type: 'LOC', text: 'John Smith' }], gold), 0, 'the wrong type');
  assert.equal(entityF1([], []), 1);
  assert.equal(entityF1([], gold), 0);
  assert.deepEqual(listedEntities(' John Smith, Mary and Bob.\nText: more', 'PER'), [
    { type: 'PER', text: 'John Smith' },
    { type: 'PER', text: 'Mary' },
    { type: 'PER', text: 'Bob' },
  ]);
  assert.deepEqual(listedEntities(' \n', 'PER'), []);
});
