#!/usr/bin/env node
/** The `elder` command line. User errors print one line and exit non-zero; bugs keep their stack trace. */
import { ElderError, UsageError } from '../util/errors.js';
import { infoCommand } from './commands/info.js';
import { logitsCommand } from './commands/logits.js';
import { generateCommand } from './commands/generate.js';
import { demoCommand } from './commands/demo.js';
import { editCommand } from './commands/edit.js';
import { askCommand } from './commands/ask.js';
import { retractCommand } from './commands/retract.js';
import { stateCommand } from './commands/state.js';
import { benchEditCommand } from './commands/bench-edit.js';
import { serveCommand } from './commands/serve.js';
import { evalBaseCommand } from './commands/eval-base.js';

const USAGE = `elder — lifelong model editing for language models

Usage:
  elder info     --model DIR [--json]
  elder logits   --model DIR --text TEXT [--top K] [--json]
  elder generate --model DIR --prompt TEXT [--max-tokens N] [--temperature T] [--top-p P] [--seed S]
  elder edit     --model DIR --state DIR --edits FILE.jsonl [--batch N] [--iters N] [--lr X]
                 [--layers a-b] [--experts N] [--rank R] [--top-k K] [--lambda X] [--epsilon E]
                 [--seed S] [--early-stop] [--replay N] [--train-routing router|preset]
                 [--fresh-codes] [--preset elder|paper]   (paper: the paper's exact ELDER)
                 [--gate code|subject] [--subject-radius X] [--query-radius X]
  elder ask      --model DIR --state DIR --prompt TEXT [--max-tokens N] [--json]
  elder retract  --state DIR --id ID
  elder state    --state DIR [--json]
  elder bench-edit --model DIR --data FILE --out DIR [--format zsre|counterfact|jsonl] [--edits N]
                 [--methods elder,elder-paper,grace,melo,ft-l,lora,elder-noguide,elder-balance] [--seed S]
                 [--batch N] [--eval-every M] [--settings FILE.json] [--locality FILE]
                 [--locality-tokens N]
  elder serve    --model DIR --state DIR [--port N] [--host H] [--read-only] [--token-file FILE]
                 [--eval DIR] [--max-body-bytes N] [--max-prompt-chars N] [--max-tokens N]
                 [ELDER options of elder edit]   (writes need ELDER_TOKEN or --token-file)
  elder eval-base [--model DIR] [--facts FILE] [--general FILE] [--facts-per-relation N]
                 [--train-templates N] [--json]   (what the base model knows of the fact table)
  elder demo     [--model DIR] [--data FILE]   (what npm start runs: ELDER on elder-facts, before and after;
                 FILE: a COUNTERFACT-format benchmark, default bench/data/facts/counterfact.json)

DIR is a Hugging Face model folder: config.json, model.safetensors (or a sharded
index) and, for text commands, tokenizer.json. Without --model, elder uses its
embedded elder-facts (models/elder-facts). Environment: ELDER_THREADS (default
all cores), ELDER_BACKEND=js|portable to force a slower backend.`;

const commands: Record<string, (argv: string[]) => void | Promise<void>> = {
  info: infoCommand,
  logits: logitsCommand,
  generate: generateCommand,
  demo: demoCommand,
  edit: editCommand,
  ask: askCommand,
  retract: retractCommand,
  state: stateCommand,
  'bench-edit': benchEditCommand,
  serve: serveCommand,
  'eval-base': evalBaseCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command "${name}" (try: elder help)`);
  await command(rest);
  return 0;
}

// A reader that stops early (`elder logits --json | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ElderError) {
      process.stderr.write(`elder: ${error.message}\n`);
      process.exitCode = error instanceof UsageError ? 2 : 1;
      return;
    }
    throw error;
  },
);
