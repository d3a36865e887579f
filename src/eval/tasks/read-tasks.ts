/**
 * The general tasks `--tasks` names: files and folders, each file either one
 * of Gu et al.'s task-data files (known by its name, gu-2024.ts) or elder's
 * task JSONL (task-file.ts). A folder contributes every such file in it.
 * Everything is read and checked before any model work.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../util/errors.js';
import { isGuTaskFile, readGuTask } from './gu-2024.js';
import { parseTaskLines, type Task } from './task-file.js';

/** The tasks in `paths`, each cut to its first `limit` examples when given; a task named twice is refused. */
export function readTasks(paths: readonly string[], limit?: number): Task[] {
  const tasks: Task[] = [];
  for (const given of paths) {
    if (!fs.existsSync(given)) throw new InputError(`--tasks ${given}: no such file or folder`);
    for (const file of taskFilesIn(given)) {
      for (const task of isGuTaskFile(file) ? [readGuTask(file)] : parseTaskLines(fs.readFileSync(file, 'utf8'), file)) {
        const earlier = tasks.find((t) => t.name === task.name);
        if (earlier !== undefined) throw new InputError(`${file}: task "${task.name}" is also in ${earlier.source}`);
        tasks.push(limit === undefined ? task : { ...task, examples: task.examples.slice(0, limit) });
      }
    }
  }
  return tasks;
}

/** The task files a path stands for: itself, or the task files in a folder (MuTual's folder counts as one). */
function taskFilesIn(given: string): string[] {
  if (!fs.statSync(given).isDirectory() || isGuTaskFile(given)) return [given];
  const files = fs
    .readdirSync(given)
    .sort()
    .map((name) => path.join(given, name))
    .filter((file) => isGuTaskFile(file) || (file.endsWith('.jsonl') && fs.statSync(file).isFile()));
  if (files.length === 0) throw new InputError(`--tasks ${given}: no task files in this folder (elder task .jsonl, or Gu et al.'s task-data files)`);
  return files;
}
