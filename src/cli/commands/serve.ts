import { resolveModelDir } from '../../models/default-model.js';
import { loadToken } from '../../server/auth.js';
import { DEFAULT_LIMITS } from '../../server/openapi.js';
import { startServer } from '../../server/server.js';
import { EditService } from '../../server/service.js';
import { UsageError } from '../../util/errors.js';
import { type CommandSpec, MODEL_OPTION, numberOption, optionalString, parseOptions, requireString } from '../args.js';
import { ELDER_OPTIONS, elderOverrides } from '../elder-options.js';

export const SERVE_COMMAND: CommandSpec = {
  name: 'serve',
  summary: 'The HTTP service: completions from the edited model, edits queued durably and trained in the background, an OpenAPI description and metrics.',
  options: {
    ...MODEL_OPTION,
    state: { type: 'string', value: 'DIR', help: 'the ELDER state folder', required: true },
    port: { type: 'string', value: 'N', help: 'TCP port (0: any free one)', default: '8080' },
    host: { type: 'string', value: 'H', help: 'address to listen on', default: '127.0.0.1' },
    'read-only': { type: 'boolean', help: 'serve completions and reads only; refuse writes' },
    'token-file': { type: 'string', value: 'FILE', help: 'bearer token for writes', default: 'ELDER_TOKEN' },
    eval: { type: 'string', value: 'DIR', help: 'a bench-edit report to serve under /v1/evaluation' },
    'max-body-bytes': { type: 'string', value: 'N', help: 'largest request body', default: String(DEFAULT_LIMITS.maxBodyBytes) },
    'max-prompt-chars': { type: 'string', value: 'N', help: 'longest prompt', default: String(DEFAULT_LIMITS.maxPromptChars) },
    'max-tokens': { type: 'string', value: 'N', help: 'most tokens one completion may ask for', default: String(DEFAULT_LIMITS.maxTokens) },
    'headers-timeout-ms': {
      type: 'string',
      value: 'MS',
      help: 'time to send request headers; slower clients get 408',
      default: String(DEFAULT_LIMITS.headersTimeoutMs),
    },
    'request-timeout-ms': {
      type: 'string',
      value: 'MS',
      help: 'time to send a whole request, body included',
      default: String(DEFAULT_LIMITS.requestTimeoutMs),
    },
    'max-connections': {
      type: 'string',
      value: 'N',
      help: 'open connections at most; more are closed on arrival',
      default: String(DEFAULT_LIMITS.maxConnections),
    },
    'max-pending': {
      type: 'string',
      value: 'N',
      help: 'requests in progress at most; more get 503 with Retry-After',
      default: String(DEFAULT_LIMITS.maxPendingRequests),
    },
    ...ELDER_OPTIONS,
  },
  notes: 'Writes (POST and DELETE) need the token, from ELDER_TOKEN or --token-file, unless the server is --read-only.',
};

/** `elder serve`: the HTTP service until SIGINT/SIGTERM; one log line per request and per training batch. */
export async function serveCommand(argv: string[]): Promise<void> {
  const options = parseOptions(argv, SERVE_COMMAND);
  const modelDir = resolveModelDir(optionalString(options, 'model'));
  const stateDir = requireString(options, 'state', 'serve');
  const readOnly = options.values['read-only'] === true;
  const port = numberOption(options, 'port', 8080, { min: 0, max: 65535, integer: true });
  const host = optionalString(options, 'host') ?? '127.0.0.1';
  const limits = {
    maxBodyBytes: numberOption(options, 'max-body-bytes', DEFAULT_LIMITS.maxBodyBytes, { min: 1024, integer: true }),
    maxPromptChars: numberOption(options, 'max-prompt-chars', DEFAULT_LIMITS.maxPromptChars, { min: 1, integer: true }),
    maxTokens: numberOption(options, 'max-tokens', DEFAULT_LIMITS.maxTokens, { min: 1, integer: true }),
    headersTimeoutMs: numberOption(options, 'headers-timeout-ms', DEFAULT_LIMITS.headersTimeoutMs, { min: 100, integer: true }),
    requestTimeoutMs: numberOption(options, 'request-timeout-ms', DEFAULT_LIMITS.requestTimeoutMs, { min: 100, integer: true }),
    maxConnections: numberOption(options, 'max-connections', DEFAULT_LIMITS.maxConnections, { min: 1, integer: true }),
    maxPendingRequests: numberOption(options, 'max-pending', DEFAULT_LIMITS.maxPendingRequests, { min: 1, integer: true }),
  };
  // Node refuses a headers timeout longer than the request timeout; say so in our words.
  if (limits.headersTimeoutMs > limits.requestTimeoutMs)
    throw new UsageError(`serve: --headers-timeout-ms (${limits.headersTimeoutMs}) must not exceed --request-timeout-ms (${limits.requestTimeoutMs})`);
  // Checked before the model loads: a misconfigured server fails at once.
  const token = loadToken(optionalString(options, 'token-file'));
  if (token === null && !readOnly) throw new UsageError('serve: writes need a token: set ELDER_TOKEN or pass --token-file FILE (or start with --read-only)');

  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const service = await EditService.open({ modelDir, stateDir, readOnly, overrides: elderOverrides(options), log });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(service, { host, port, token, limits, evalDir: optionalString(options, 'eval'), log });
  } catch (error) {
    await service.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new UsageError(`serve: cannot listen on ${host}:${port} (${code})`);
    throw error;
  }
  const counts = service.store?.counts();
  log(
    `listening on ${server.url} (model ${service.modelName}, state ${stateDir}, generation ${service.generation}${counts ? `, ${counts.applied} applied, ${counts.queued} queued` : ''}${readOnly ? ', read-only' : ''})`,
  );
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') log(`note: bound to ${host}, reachable from other machines; completions need no token`);

  const running = server;
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: stopping (a batch in training is queued again at the next start)`);
      void running
        .close()
        .then(() => service.close())
        .then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
