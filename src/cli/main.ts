#!/usr/bin/env node
/** The `elder` command line. User errors print one line and exit non-zero; bugs keep their stack trace. */
import { ElderError, UsageError } from '../util/errors.js';
import { type CommandSpec, HelpRequested } from './args.js';
import { ASK_COMMAND, askCommand } from './commands/ask.js';
import { BENCH_EDIT_COMMAND, benchEditCommand } from './commands/bench-edit.js';
import { COVARIANCE_COMMAND, covarianceCommand } from './commands/covariance.js';
import { DEMO_COMMAND, demoCommand } from './commands/demo.js';
import { EDIT_COMMAND, editCommand } from './commands/edit.js';
import { EVAL_BASE_COMMAND, evalBaseCommand } from './commands/eval-base.js';
import { GENERATE_COMMAND, generateCommand } from './commands/generate.js';
import { INFO_COMMAND, infoCommand } from './commands/info.js';
import { LOGITS_COMMAND, logitsCommand } from './commands/logits.js';
import { RETRACT_COMMAND, retractCommand } from './commands/retract.js';
import { SERVE_COMMAND, serveCommand } from './commands/serve.js';
import { STATE_COMMAND, stateCommand } from './commands/state.js';
import { TRACE_COMMAND, traceCommand } from './commands/trace.js';

const commands: Array<{ spec: CommandSpec; run: (argv: string[]) => void | Promise<void> }> = [
  { spec: DEMO_COMMAND, run: demoCommand },
  { spec: EDIT_COMMAND, run: editCommand },
  { spec: ASK_COMMAND, run: askCommand },
  { spec: RETRACT_COMMAND, run: retractCommand },
  { spec: STATE_COMMAND, run: stateCommand },
  { spec: SERVE_COMMAND, run: serveCommand },
  { spec: BENCH_EDIT_COMMAND, run: benchEditCommand },
  { spec: EVAL_BASE_COMMAND, run: evalBaseCommand },
  { spec: TRACE_COMMAND, run: traceCommand },
  { spec: COVARIANCE_COMMAND, run: covarianceCommand },
  { spec: INFO_COMMAND, run: infoCommand },
  { spec: LOGITS_COMMAND, run: logitsCommand },
  { spec: GENERATE_COMMAND, run: generateCommand },
];

const USAGE = `elder — lifelong model editing for language models

Usage: elder COMMAND [options]    (elder COMMAND --help: its options and defaults)

Commands:
${commands.map(({ spec }) => `  ${spec.name.padEnd(11)} ${spec.summary}`).join('\n')}

Without --model, elder uses its embedded elder-facts (models/elder-facts); a model is a
Hugging Face folder: config.json, model.safetensors (or a sharded index), tokenizer.json.
Environment: ELDER_THREADS (default all cores), ELDER_BACKEND=js|portable to force a slower backend.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = commands.find(({ spec }) => spec.name === name);
  if (command === undefined) throw new UsageError(`unknown command "${name}" (try: elder help)`);
  try {
    await command.run(rest);
  } catch (error) {
    if (!(error instanceof HelpRequested)) throw error;
    console.log(error.text);
  }
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
