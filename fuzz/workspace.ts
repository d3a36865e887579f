/**
 * What the fuzz surfaces damage: a tiny GPT-2 written by elder's own code
 * (with elder-facts' tokenizer, so it needs nothing outside the repository),
 * in a temporary folder removed at exit.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/models/config.js';
import { randomModel, saveModel } from '../src/models/load.js';
import { TOKENIZER_FILES } from '../src/models/tokenizer.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FACTS_MODEL = path.join(REPO, 'models/elder-facts');

export interface Workspace {
  root: string;
  /** A complete model folder: config.json, model.safetensors, tokenizer files. */
  modelDir: string;
  /** A scratch folder name, unique per call. */
  scratch(name: string): string;
  remove(): void;
}

export function createWorkspace(): Workspace {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'elder-fuzz-'));
  const modelDir = path.join(root, 'model');
  const config = parseConfig(
    { model_type: 'gpt2', vocab_size: 10641, n_positions: 64, n_embd: 16, n_layer: 4, n_head: 2, n_inner: 32, eos_token_id: 10640, bos_token_id: 10640 },
    'fuzz',
  );
  saveModel(modelDir, randomModel(config, 7, 0.05), { tokenizerFrom: FACTS_MODEL });
  let counter = 0;
  return {
    root,
    modelDir,
    scratch(name) {
      const dir = path.join(root, `${name}-${counter++}`);
      fs.mkdirSync(dir, { recursive: true });
      return dir;
    },
    remove() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Copies a model folder, optionally without its tokenizer (faster to load when the tokenizer is not under test). */
export function copyModel(from: string, to: string, withTokenizer: boolean): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    if (!withTokenizer && (TOKENIZER_FILES as readonly string[]).includes(name)) continue;
    fs.copyFileSync(path.join(from, name), path.join(to, name));
  }
}
