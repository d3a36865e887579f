/** Small HTTP plumbing for the service: typed errors with a status, bounded JSON bodies, JSON replies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ElderError } from '../util/errors.js';

/** An error with the HTTP status it answers with. */
export class HttpError extends ElderError {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Reads a JSON body of at most `limit` bytes. A body announced or found to be
 * larger is refused with 413 before it is parsed; nothing else is read.
 */
export async function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const type = request.headers['content-type'];
  if (type === undefined || !/^application\/json\b/i.test(type)) {
    throw new HttpError(415, `Content-Type must be application/json (got ${type === undefined ? 'none' : `"${type}"`})`);
  }
  const announced = Number(request.headers['content-length']);
  if (Number.isFinite(announced) && announced > limit) throw new HttpError(413, `request body of ${announced} bytes exceeds the limit of ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body exceeds the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'request body is empty; expected JSON');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON (${(error as Error).message})`);
  }
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(response, status, `${JSON.stringify(body, null, 2)}\n`, 'application/json; charset=utf-8', headers);
}

export function sendText(response: ServerResponse, status: number, text: string, contentType: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}
