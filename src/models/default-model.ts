/** elder-facts, the model elder ships (see models/elder-facts/README.md): every `--model` defaults to it. */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../tensor/backends/native.js';
import { CheckpointError } from '../util/errors.js';

export const DEFAULT_MODEL_NAME = 'elder-facts';

export function defaultModelDir(): string {
  return path.join(packageRoot(), 'models', DEFAULT_MODEL_NAME);
}

/** The given folder, or elder-facts' when none is given (which must then exist). */
export function resolveModelDir(given: string | undefined): string {
  if (given !== undefined && given !== '') return given;
  const dir = defaultModelDir();
  if (!fs.existsSync(path.join(dir, 'model.safetensors')))
    throw new CheckpointError(dir, 'the default model elder-facts is missing; pass --model DIR or rebuild it with npm run facts:table && npm run train:facts');
  return dir;
}
