/** The web page's files and the OpenAPI document. */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../tensor/backends/native.js';
import { sendText } from '../http.js';
import { openApiDocument } from '../openapi.js';
import type { Route, RouteContext } from './route.js';

const WEB_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export function webRoutes({ limits }: RouteContext): Route[] {
  const webRoot = path.join(packageRoot(), 'web');
  const version = (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const openApi = `${JSON.stringify(openApiDocument(limits, version), null, 2)}\n`;
  return [
    ...Object.entries(WEB_FILES).map(
      ([urlPath, { file, type }]): Route => ({
        method: 'GET',
        template: urlPath,
        pattern: new RegExp(`^${urlPath.replace(/[.]/g, '\\.')}$`),
        handle: (_request, response) =>
          sendText(response, 200, fs.readFileSync(path.join(webRoot, file), 'utf8'), type, {
            'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'",
            'x-content-type-options': 'nosniff',
          }),
      }),
    ),
    {
      method: 'GET',
      template: '/openapi.json',
      pattern: /^\/openapi\.json$/,
      handle: (_q, response) => sendText(response, 200, openApi, 'application/json; charset=utf-8'),
    },
  ];
}
