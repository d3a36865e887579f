import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type TokenizedEdit, tokenizeEdit } from '../src/editors/edit.js';
import { elderConfig } from '../src/editors/elder/config.js';
import { ElderEditor } from '../src/editors/elder/editor.js';
import { trainedSequence } from '../src/editors/elder/frozen.js';
import { answerEnding, withAnswerEndings } from '../src/editors/ending.js';
import { defaultModelDir } from '../src/models/default-model.js';
import { answerIds, generate } from '../src/models/generate.js';
import { loadModel } from '../src/models/load.js';
import { answersWith, fluency, repeatsFragment } from '../src/text/answers.js';
import { cli, repoRoot } from './helpers.js';

const { model, tokenizer } = loadModel(defaultModelDir());
const tok = tokenizer!;
const ANSWER_TOKENS = 12;

/**
 * Realistic edits a user would make: a country's capital moved to another
 * real city of that country. The first 16 countries of the fact table whose
 * capital elder-facts states, each with the first of its cities in the table
 * that is not the capital.
 */
function capitalMoves(count: number): TokenizedEdit[] {
  const facts = (
    JSON.parse(fs.readFileSync(path.join(repoRoot, 'bench', 'data', 'facts', 'facts.json'), 'utf8')) as {
      facts: Array<{ relation: string; subject: string; object: string }>;
    }
  ).facts;
  const capitals = facts.filter((f) => f.relation === 'country_capital');
  const cities = facts.filter((f) => f.relation === 'city_country');
  const edits: TokenizedEdit[] = [];
  for (const capital of capitals) {
    if (edits.length === count) break;
    const city = cities.find((c) => c.object === capital.subject && c.subject !== capital.object);
    if (city === undefined) continue;
    const prompt = `The capital of ${capital.subject} is`;
    const ids = tok.encode(prompt);
    if (
      !tok
        .decode(answerIds(generate(model, ids, { maxTokens: ANSWER_TOKENS })))
        .trim()
        .startsWith(capital.object)
    )
      continue;
    const id = `capital-${edits.length + 1}`;
    edits.push(tokenizeEdit(tok, model.config, { id, label: id, prompt, target: city.subject, subject: capital.subject }));
  }
  return withAnswerEndings(model, tok, edits);
}

const edits = capitalMoves(16);

function editedAnswer(editor: ElderEditor, edit: TokenizedEdit): string {
  return tok.decode(answerIds(editor.answer(edit.promptIds, ANSWER_TOKENS)));
}

test('the metrics of generated text: an answer that repeats its object, or a fragment, does not read as the target', () => {
  assert.ok(answersWith(' Lyon.', 'Lyon'));
  assert.ok(answersWith(' Lyon, a city in France.', 'Lyon'));
  assert.ok(!answersWith(' Lyon Lyon Lyonononon', 'Lyon'), 'the object said again');
  assert.ok(!answersWith(' Osaka-aka-aka-aka-aka-', 'Osaka'), 'a fragment repeated');
  assert.ok(!answersWith(' 4 4 4 4 4 4', '4'));
  assert.ok(!answersWith(' Lebanese pound Taiwanese pound', 'Lebanese pound'), "the target's last word said again");
  assert.ok(!answersWith(' Paris.', 'Lyon'));
  assert.ok(repeatsFragment('Lyonononon') && repeatsFragment('on on on') && !repeatsFragment('The capital is Lyon.') && !repeatsFragment('1000000'));
  // ROME's fluency: repetition lowers the n-gram entropy.
  assert.ok(fluency('the cat sat on the mat by the door') > fluency('the cat the cat the cat the cat the cat'));
  assert.equal(fluency('Lyon'), 0);
});

test("an edit's ending is what the base model says after its own answer", () => {
  const ids = tok.encode('The capital of France is');
  // elder-facts answers " Paris." and ends: the ending is "." and end of text.
  assert.deepEqual(
    answerEnding(model, tok, ids, 'Lyon', 8).map((id) => tok.decode([id])),
    ['.', '<|endoftext|>'],
  );
  // A target written with its closing punctuation keeps it once.
  assert.deepEqual(
    answerEnding(model, tok, ids, 'Lyon.', 8).map((id) => tok.decode([id])),
    ['<|endoftext|>'],
  );
  assert.deepEqual(answerEnding(model, tok, ids, 'Lyon', 0), [], 'no room in the context, no ending');
});

test(`a user's first edit, applied alone, reads cleanly: ${edits.length} capital moves, each on a fresh editor with the CLI defaults`, () => {
  assert.equal(edits.length, 16);
  const answers = edits.map((edit) => {
    const editor = new ElderEditor(model, elderConfig(model.config));
    editor.applyBatch([edit]);
    return { edit, text: editedAnswer(editor, edit) };
  });
  const clean = answers.filter(({ edit, text }) => answersWith(text, edit.target));
  const unclean = answers.filter((a) => !clean.includes(a)).map(({ edit, text }) => `${edit.prompt} →${text} (target ${edit.target})`);
  assert.ok(clean.length / answers.length >= 0.95, `clean answers ${clean.length}/${answers.length}:\n${unclean.join('\n')}`);
  for (const { text } of answers) assert.ok(!text.includes('<|endoftext|>'), `an answer printed the end-of-text token: ${text}`);
});

test('a stream of the same 16 edits in batches of 4 reads cleanly, every earlier edit included', () => {
  const editor = new ElderEditor(model, elderConfig(model.config));
  for (let start = 0; start < edits.length; start += 4) editor.applyBatch(edits.slice(start, start + 4));
  const unclean = edits.map((edit) => ({ edit, text: editedAnswer(editor, edit) })).filter(({ edit, text }) => !answersWith(text, edit.target));
  assert.ok(
    unclean.length <= Math.floor(0.05 * edits.length),
    `unclean: ${unclean.map(({ edit, text }) => `${edit.prompt} →${text} (target ${edit.target})`).join('; ')}`,
  );
});

test('the paper preset trains the target alone: its edits carry no ending into training', () => {
  const paper = elderConfig(model.config, { preset: 'paper' });
  const elder = elderConfig(model.config);
  assert.equal(paper.training.trainEnding, false);
  assert.equal(elder.training.trainEnding, true);
  const trained = (withEnding: boolean) => trainedSequence(edits[0], withEnding).targetIds;
  assert.deepEqual(trained(paper.training.trainEnding), edits[0].targetIds);
  assert.deepEqual(trained(elder.training.trainEnding), [...edits[0].targetIds, ...edits[0].endingIds!]);
  assert.ok(edits[0].endingIds!.length > 0, 'the edit has an ending to train');
});

test('elder edit then ask: the answer ends cleanly and the end-of-text token is never printed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-fluent-'));
  try {
    const file = path.join(dir, 'edits.jsonl');
    fs.writeFileSync(file, `${JSON.stringify({ prompt: 'The capital of France is', target: 'Lyon', subject: 'France' })}\n`);
    const state = path.join(dir, 'state');
    const edit = spawnSync(process.execPath, [cli, 'edit', '--state', state, '--edits', file], { encoding: 'utf8' });
    assert.equal(edit.status, 0, edit.stderr);
    const ask = spawnSync(process.execPath, [cli, 'ask', '--state', state, '--prompt', 'The capital of France is', '--max-tokens', '12'], {
      encoding: 'utf8',
    });
    assert.equal(ask.status, 0, ask.stderr);
    assert.equal(ask.stdout.trim(), 'The capital of France is Lyon.');
    const json = spawnSync(process.execPath, [cli, 'ask', '--state', state, '--prompt', 'The capital of France is', '--max-tokens', '12', '--json'], {
      encoding: 'utf8',
    });
    const answer = JSON.parse(json.stdout) as { answer: string; finish_reason: string };
    assert.deepEqual([answer.answer, answer.finish_reason], [' Lyon.', 'stop']);
    const cut = JSON.parse(
      spawnSync(process.execPath, [cli, 'ask', '--state', state, '--prompt', 'The capital of France is', '--max-tokens', '1', '--json'], {
        encoding: 'utf8',
      }).stdout,
    ) as { finish_reason: string };
    assert.equal(cut.finish_reason, 'length');
    const generated = spawnSync(process.execPath, [cli, 'generate', '--prompt', 'The capital of Germany is'], { encoding: 'utf8' });
    assert.equal(generated.status, 0, generated.stderr);
    assert.equal(generated.stdout.trim(), 'The capital of Germany is Berlin.');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a target holding the end-of-text marker is refused, naming the edit and the field; trailing whitespace is trimmed', () => {
  const edit = (target: string) => tokenizeEdit(tok, model.config, { id: 'e', label: 'e', prompt: 'The capital of France is', target });
  assert.throws(() => edit('Lyon<|endoftext|>'), /^InputError: edit "e": the target holds the end-of-text marker "<\|endoftext\|>"/);
  assert.throws(() => edit('Lyon.<|endoftext|> More'), /the target holds the end-of-text marker/);
  const trimmed = edit('Lyon \n');
  assert.equal(trimmed.target, 'Lyon');
  assert.deepEqual(trimmed.targetIds, edit('Lyon').targetIds);
  assert.throws(() => edit('   '), /edit "e": the target is empty or only whitespace/);
});
