import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cli, sharedDir, tinyGpt2Dir, tinyLlamaDir } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-cli-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function elder(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A copy of the tiny GPT-2 folder with one file replaced or removed. */
function brokenModel(name: string, change: (dir: string) => void): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  for (const file of fs.readdirSync(tinyGpt2Dir)) {
    if (!file.startsWith('reference')) fs.copyFileSync(path.join(tinyGpt2Dir, file), path.join(dir, file));
  }
  change(dir);
  return dir;
}

test('info reports architecture, parameters, dtype and backend', () => {
  const { code, stdout } = elder('info', '--model', tinyGpt2Dir, '--json');
  assert.equal(code, 0);
  const info = JSON.parse(stdout) as Record<string, unknown>;
  assert.equal(info.architecture, 'gpt2');
  assert.equal(info.parameters, 50257 * 64 + 64 * 64 + 4 * (2 * 64 + 64 * 192 + 192 + 64 * 64 + 64 + 2 * 64 + 64 * 256 + 256 + 256 * 64 + 64) + 2 * 64);
  assert.equal(info.dtype, 'F32');
  assert.equal(info.weightBytes, 4 * (info.parameters as number), 'float32 weights take 4 bytes each');
  assert.match(String(info.backend), /^(openblas|portable|js)$/);
  const qwen = JSON.parse(elder('info', '--model', path.join(sharedDir, 'fixtures', 'tiny-qwen2'), '--json').stdout) as Record<string, unknown>;
  assert.equal(qwen.dtype, 'BF16');
  assert.ok(
    (qwen.weightBytes as number) < 2.2 * (qwen.parameters as number),
    `BF16 matrices stay half: ${qwen.weightBytes} bytes for ${qwen.parameters} values`,
  );
  const llama = JSON.parse(elder('info', '--model', tinyLlamaDir, '--json').stdout) as Record<string, unknown>;
  assert.equal(llama.kvHeads, 2);
  assert.equal(llama.tokenizer, false);
});

test("logits --json prints ids and every position's logits, equal to the PyTorch reference", () => {
  const { code, stdout } = elder('logits', '--model', tinyGpt2Dir, '--text', 'Hello world', '--json');
  assert.equal(code, 0);
  const out = JSON.parse(stdout) as { ids: number[]; logits: number[][] };
  assert.deepEqual(out.ids, [15496, 995]);
  assert.equal(out.logits.length, 2);
  assert.equal(out.logits[0].length, 50257);
  const bytes = fs.readFileSync(path.join(tinyGpt2Dir, 'reference-logits.bin'));
  const reference = new Float32Array(bytes.buffer, bytes.byteOffset, 2 * 50257);
  let worst = 0;
  out.logits.flat().forEach((v, i) => {
    worst = Math.max(worst, Math.abs(v - reference[i]));
  });
  assert.ok(worst < 1e-4);
});

test('logits without --json shows a top-K table; generate is deterministic when greedy', () => {
  const table = elder('logits', '--model', tinyGpt2Dir, '--text', 'The capital of France is', '--top', '3');
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^\s+1\s+29238\s/m); // the fixture's argmax
  assert.equal(table.stdout.trim().split('\n').length, 5);
  const a = elder('generate', '--model', tinyGpt2Dir, '--prompt', 'Hello world', '--max-tokens', '5');
  const b = elder('generate', '--model', tinyGpt2Dir, '--prompt', 'Hello world', '--max-tokens', '5');
  assert.equal(a.code, 0);
  assert.ok(a.stdout.startsWith('Hello world') && a.stdout.length > 'Hello world\n'.length);
  assert.equal(a.stdout, b.stdout);
});

const userErrors: Array<[string, () => string[], RegExp]> = [
  ['missing folder', () => ['info', '--model', path.join(tmp, 'nope')], /nope: model folder not found/],
  [
    'missing safetensors',
    () => ['info', '--model', brokenModel('no-weights', (d) => fs.rmSync(path.join(d, 'model.safetensors')))],
    /model\.safetensors: file not found/,
  ],
  [
    'corrupt safetensors',
    () => ['info', '--model', brokenModel('corrupt', (d) => fs.writeFileSync(path.join(d, 'model.safetensors'), Buffer.alloc(64, 7)))],
    /model\.safetensors: corrupt safetensors header/,
  ],
  [
    'truncated safetensors',
    () => ['info', '--model', brokenModel('truncated', (d) => fs.truncateSync(path.join(d, 'model.safetensors'), 100000))],
    /model\.safetensors: truncated/,
  ],
  [
    'shape mismatch',
    () => [
      'info',
      '--model',
      brokenModel('shape', (d) => {
        const config = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
        fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...config, n_inner: 128 }));
      }),
    ],
    /model\.safetensors: tensor "transformer\.h\.0\.mlp\.c_fc\.weight" has shape \[64, 256\], the config implies \[64, 128\]/,
  ],
  [
    'unsupported model_type',
    () => ['info', '--model', brokenModel('type', (d) => fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ model_type: 'bert' })))],
    /config\.json: unsupported model_type "bert"/,
  ],
  [
    'unsupported dtype',
    () => [
      'info',
      '--model',
      brokenModel('dtype', (d) => {
        const json = Buffer.from(JSON.stringify({ 'transformer.wte.weight': { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }));
        const prefix = Buffer.alloc(8);
        prefix.writeBigUInt64LE(BigInt(json.length));
        fs.writeFileSync(path.join(d, 'model.safetensors'), Buffer.concat([prefix, json, Buffer.alloc(8)]));
      }),
    ],
    /model\.safetensors: tensor "transformer\.wte\.weight" has unsupported dtype I64/,
  ],
  [
    'NaN in weights',
    () => [
      'info',
      '--model',
      brokenModel('nan', (d) => {
        const file = path.join(d, 'model.safetensors');
        const bytes = fs.readFileSync(file);
        bytes.writeFloatLE(NaN, bytes.length - 4); // last element of the last tensor
        fs.writeFileSync(file, bytes);
      }),
    ],
    /model\.safetensors: tensor "transformer\.ln_f\.bias" holds a non-finite value/,
  ],
  [
    'prompt longer than the context',
    () => ['logits', '--model', tinyGpt2Dir, '--text', 'word '.repeat(80)],
    /input of 81 tokens exceeds the model's context of 64 tokens/,
  ],
  ['text command without a tokenizer', () => ['generate', '--model', tinyLlamaDir, '--prompt', 'hi'], /no tokenizer\.json/],
  ['bad number', () => ['generate', '--model', tinyGpt2Dir, '--prompt', 'hi', '--max-tokens', 'many'], /--max-tokens must be an integer/],
  [
    'bad ELDER setting',
    () => ['edit', '--model', tinyGpt2Dir, '--state', 'unused', '--edits', 'unused.jsonl', '--rank', '0'],
    /--rank must be an integer ≥ 1, got "0"/,
  ],
  [
    'contradicting ELDER switches',
    () => ['edit', '--model', tinyGpt2Dir, '--state', 'unused', '--edits', 'unused.jsonl', '--fresh-codes', '--no-fresh-codes'],
    /--fresh-codes and --no-fresh-codes contradict each other/,
  ],
  ['unknown option', () => ['info', '--model', tinyGpt2Dir, '--colour'], /info: unknown option --colour \(see elder info --help\)/],
  ['missing option', () => ['logits', '--model', tinyGpt2Dir], /logits: --text is required/],
];

for (const [name, args, pattern] of userErrors) {
  test(`user error: ${name} → one clear line, non-zero exit, no stack trace`, () => {
    const { code, stdout, stderr } = elder(...args());
    assert.notEqual(code, 0);
    assert.equal(stdout, '');
    assert.match(stderr, pattern);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /^elder: /);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });
}

test('every command answers --help with its usage and every option; an unknown option is one line naming it', () => {
  const overview = spawnSync(process.execPath, [cli, 'help'], { encoding: 'utf8' });
  assert.equal(overview.status, 0);
  const names = [...overview.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]);
  assert.ok(names.length >= 11, `commands listed: ${names.join(', ')}`);
  for (const name of names) {
    for (const flag of ['--help', '-h']) {
      const help = spawnSync(process.execPath, [cli, name, flag], { encoding: 'utf8' });
      assert.equal(help.status, 0, `${name} ${flag}: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`^Usage: elder ${name} `));
      assert.match(help.stdout, /^Options:$/m);
    }
    // Help wins over anything else on the line, even missing required options.
    assert.equal(spawnSync(process.execPath, [cli, name, '--bogus', '--help'], { encoding: 'utf8' }).status, 0);
    const unknown = spawnSync(process.execPath, [cli, name, '--no-such-option'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2, name);
    assert.equal(unknown.stderr, `elder: ${name}: unknown option --no-such-option (see elder ${name} --help)\n`);
  }
  // Every option a command parses is documented with a description (and defaults where it has one).
  const edit = spawnSync(process.execPath, [cli, 'edit', '--help'], { encoding: 'utf8' }).stdout;
  for (const option of ['--state DIR', '--edits FILE.jsonl', '--preset elder|paper', '--replay N', '--gate code|subject'])
    assert.ok(edit.includes(`  ${option}`), option);
  assert.match(edit, /--iters N +optimisation steps per batch \(default: 50\)/);
  // Generated from the settings tables: each preset's default, and both spellings of a switch.
  assert.match(edit, /--rank R +rank of each expert \(default: elder 64, paper 8\)/);
  assert.match(edit, /--fresh-codes +re-route .*\(default: elder on, paper off\)/);
  assert.match(edit, /--no-matched-experts +the opposite of --matched-experts/);
  assert.match(edit, /--query-radius X +subject gate: radius/);
  const serve = spawnSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8' }).stdout;
  assert.match(serve, /--port N +TCP port .*\(default: 8080\)/);
});
