/**
 * The base model's task scores, cached: they depend on the model's weights
 * and the tasks alone, and every run of the same model and task files would
 * otherwise recompute them. One file per (weights fingerprint, tasks hash)
 * under elder's cache folder (`tasks/`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { elderCacheDir } from '../../util/cache-dir.js';
import type { TaskScore } from './run-tasks.js';
import type { Task } from './task-file.js';

/** A hash of the tasks' names, kinds and examples (what their scores depend on besides the model). */
export function tasksHash(tasks: readonly Task[]): string {
  const hash = createHash('sha256');
  for (const task of tasks) hash.update(JSON.stringify([task.name, task.kind, task.examples]));
  return hash.digest('hex');
}

export class BaseTaskCache {
  constructor(readonly dir: string = elderCacheDir('tasks')) {}

  fileFor(modelFingerprint: string, tasks: readonly Task[]): string {
    return path.join(this.dir, `${modelFingerprint.slice(0, 16)}-${tasksHash(tasks).slice(0, 16)}.json`);
  }

  /** The cached scores, or undefined (none yet, or a file that does not read). */
  read(modelFingerprint: string, tasks: readonly Task[]): TaskScore[] | undefined {
    const file = this.fileFor(modelFingerprint, tasks);
    if (!fs.existsSync(file)) return undefined;
    try {
      const scores = JSON.parse(fs.readFileSync(file, 'utf8')) as TaskScore[];
      return scores.length === tasks.length && scores.every((s, i) => s.task === tasks[i].name) ? scores : undefined;
    } catch {
      return undefined;
    }
  }

  write(modelFingerprint: string, tasks: readonly Task[], scores: readonly TaskScore[]): void {
    fs.mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(this.fileFor(modelFingerprint, tasks), [Buffer.from(`${JSON.stringify(scores)}\n`)]);
  }
}
