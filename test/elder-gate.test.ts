import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GateEntry, SubjectIndex } from '../src/editors/elder/gates/subject-index.js';
import { Random } from '../src/util/random.js';

/**
 * Gate queries of a toy "model": axes 0..3 carry the fact, axes 4..7 the
 * phrasing with a larger spread, as in a decoder whose last-token state is
 * dominated by the template.
 */
const tables = new Random(2);
const factVectors = Array.from({ length: 40 }, () => Array.from({ length: 4 }, () => 3 * tables.normal()));
const templateVectors = Array.from({ length: 6 }, () => Array.from({ length: 4 }, () => 10 * tables.normal()));
function toyQuery(fact: number, template: number, rng: Random): Float32Array {
  return Float32Array.from([...factVectors[fact], ...templateVectors[template]], (x) => x + 0.05 * rng.normal());
}

test('the whitened metric admits a fact in an unseen phrasing and keeps other facts out, where a Euclidean radius cannot', () => {
  const rng = new Random(11);
  const entries: GateEntry[] = [];
  // 40 facts, each edited in two of 6 phrasings and held out in a third.
  const phrasings = Array.from({ length: 40 }, () => rng.shuffle([0, 1, 2, 3, 4, 5]).slice(0, 3));
  for (let fact = 0; fact < 40; fact++) {
    for (const template of phrasings[fact].slice(0, 2))
      entries.push({
        id: `${fact}/${template}`,
        label: `fact ${fact}`,
        gateQuery: toyQuery(fact, template, rng),
        subjectKey: null,
        subjectSpan: null,
        subjectOpening: null,
      });
  }
  const noTokens = new Float32Array(0);
  const heldOut = Array.from({ length: 40 }, (_, fact) => ({ fact, query: toyQuery(fact, phrasings[fact][2], rng) }));
  const admitted = (gate: SubjectIndex) => heldOut.filter(({ fact, query }) => gate.match(query, noTokens)?.startsWith(`${fact}/`)).length;
  const wrongly = (gate: SubjectIndex) =>
    heldOut.filter(({ fact, query }) => gate.match(query, noTokens) !== null && !gate.match(query, noTokens)!.startsWith(`${fact}/`)).length;

  const whitened = SubjectIndex.build(entries, { queryMetric: 'whitened', queryRadius: 0.5, subjectRadius: 0.25, scatterShrinkage: 0.03, subjectTest: 'span' });
  assert.ok(admitted(whitened) >= 30, `whitened: ${admitted(whitened)} of 40 rephrasings matched their own fact`);
  assert.ok(wrongly(whitened) <= 8, `whitened: ${wrongly(whitened)} rephrasings matched another fact`);
  const tight = SubjectIndex.build(entries, { queryMetric: 'whitened', queryRadius: 0.1, subjectRadius: 0.25, scatterShrinkage: 0.03, subjectTest: 'span' });
  assert.equal(admitted(tight) + wrongly(tight), 0, 'a small radius admits nothing');

  // Euclidean: the template dominates, so the nearest stored query is another fact's in the same phrasing.
  for (const radius of [0.2, 0.5, 1, 1.5]) {
    const euclidean = SubjectIndex.build(entries, {
      queryMetric: 'euclidean',
      queryRadius: radius,
      subjectRadius: 0.25,
      scatterShrinkage: 0.03,
      subjectTest: 'span',
    });
    assert.ok(admitted(euclidean) < 5, `euclidean ${radius}: ${admitted(euclidean)} right, ${wrongly(euclidean)} wrong`);
  }
});

test("the span test asks for the subject's whole token span, in the prompt's spelling or as opening words; the last-token test for its last token only", () => {
  const rng = new Random(9);
  const token = () => Float32Array.from({ length: 8 }, () => rng.normal());
  const [first, last, openingFirst, openingLast, other] = [token(), token(), token(), token(), token()];
  const query = toyQuery(2, 0, rng);
  const entry: GateEntry = {
    id: 'e',
    label: 'e',
    gateQuery: query,
    subjectKey: last,
    subjectSpan: Float32Array.of(...first, ...last),
    subjectOpening: Float32Array.of(...openingFirst, ...openingLast),
  };
  const settings = { queryMetric: 'euclidean', queryRadius: 0.5, subjectRadius: 0.25, scatterShrinkage: 0.03 } as const;
  const span = SubjectIndex.build([entry], { ...settings, subjectTest: 'span' });
  const lastToken = SubjectIndex.build([entry], { ...settings, subjectTest: 'last-token' });
  const inputs = {
    'the span, as in the prompt': Float32Array.of(...other, ...first, ...last, ...other),
    'the span as opening words': Float32Array.of(...openingFirst, ...openingLast, ...other),
    'another subject sharing the last token': Float32Array.of(...other, ...last),
    'the span out of order': Float32Array.of(...last, ...first),
    'no subject token': Float32Array.of(...other, ...other),
  };
  const verdicts = (gate: SubjectIndex) => Object.fromEntries(Object.entries(inputs).map(([name, tokens]) => [name, gate.match(query, tokens)]));
  assert.deepEqual(verdicts(span), {
    'the span, as in the prompt': 'e',
    'the span as opening words': 'e',
    'another subject sharing the last token': null,
    'the span out of order': null,
    'no subject token': null,
  });
  assert.deepEqual(verdicts(lastToken), {
    'the span, as in the prompt': 'e',
    'the span as opening words': null,
    'another subject sharing the last token': 'e',
    'the span out of order': 'e',
    'no subject token': null,
  });
  // An edit journaled before spans were kept falls back on its last token.
  const old = SubjectIndex.build([{ ...entry, subjectSpan: null, subjectOpening: null }], { ...settings, subjectTest: 'span' });
  assert.equal(old.match(query, inputs['another subject sharing the last token']), 'e');
});

test('the subject test still applies under the whitened metric, and one label alone gives a usable scale', () => {
  const rng = new Random(5);
  const key = Float32Array.from({ length: 8 }, () => rng.normal());
  const entries: GateEntry[] = [
    { id: 'a', label: 'only', gateQuery: toyQuery(1, 0, rng), subjectKey: key, subjectSpan: null, subjectOpening: null },
    { id: 'a#1', label: 'only', gateQuery: toyQuery(1, 1, rng), subjectKey: key, subjectSpan: null, subjectOpening: null },
  ];
  const gate = SubjectIndex.build(entries, { queryMetric: 'whitened', queryRadius: 0.5, subjectRadius: 0.25, scatterShrinkage: 0.03, subjectTest: 'span' });
  const query = toyQuery(1, 0, rng);
  const far = Float32Array.from(key, (x) => x + 5);
  assert.equal(gate.match(query, Float32Array.of(...far, ...key)), 'a', 'a token at the subject key matches');
  assert.equal(gate.match(query, far), null, 'no token near the subject key: no match');

  // The study methods give the same verdicts the match is made of.
  const distances = gate.queryDistances(query);
  assert.ok(distances[0] < 1, `the query lies within the radius of its own phrasing (${distances[0]})`);
  assert.deepEqual(gate.subjectsNear(Float32Array.of(...far, ...key)), [true, true]);
  assert.deepEqual(gate.subjectsNear(far), [false, false]);
  const tight = SubjectIndex.build(entries, { queryMetric: 'whitened', queryRadius: 1e-4, subjectRadius: 0.25, scatterShrinkage: 0.03, subjectTest: 'span' });
  assert.ok(
    tight.queryDistances(query).every((d) => d >= 1),
    'a tiny radius puts every stored query outside it',
  );
  assert.equal(tight.match(query, key), null);
});
