/** Bearer-token authorisation for the service's write endpoints. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { UsageError } from '../util/errors.js';
import { HttpError } from './http.js';

/** Shorter tokens are refused: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * The write token: from `tokenFile` when given, else from `ELDER_TOKEN`.
 * Returns null when neither is set (the caller refuses to start unless read-only).
 */
export function loadToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  let token: string | undefined;
  let where: string;
  if (tokenFile !== undefined) {
    try {
      token = fs.readFileSync(tokenFile, 'utf8').trim();
    } catch (error) {
      throw new UsageError(`--token-file ${tokenFile}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message}`);
    }
    where = `--token-file ${tokenFile}`;
  } else {
    token = env.ELDER_TOKEN?.trim();
    where = 'ELDER_TOKEN';
  }
  if (token === undefined || token === '') return null;
  if (token.length < MIN_TOKEN_LENGTH) throw new UsageError(`${where}: the token must be at least ${MIN_TOKEN_LENGTH} characters`);
  return token;
}

const digest = (text: string) => crypto.createHash('sha256').update(text).digest();

/** Throws 401 unless the request carries `Authorization: Bearer <token>` (compared in constant time). */
export function requireBearer(request: IncomingMessage, token: string): void {
  const header = request.headers.authorization;
  const challenge = { 'www-authenticate': 'Bearer realm="elder"' };
  if (header === undefined) throw new HttpError(401, 'this endpoint needs Authorization: Bearer <token>', challenge);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new HttpError(401, 'the Authorization header must be "Bearer <token>"', challenge);
  if (!crypto.timingSafeEqual(digest(match[1]), digest(token))) throw new HttpError(401, 'the bearer token is not valid', challenge);
}
