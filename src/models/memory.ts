/**
 * Whether a checkpoint fits in memory, decided from its header before any
 * tensor is mapped or read: a model that will not fit is refused with the
 * estimate and what is available, instead of being killed halfway through.
 */
import fs from 'node:fs';
import os from 'node:os';
import { ResourceError } from '../util/errors.js';
import type { TensorEntry } from './safetensors.js';
import { residentBytes } from './weights.js';

const GIB = 2 ** 30;
/** Working memory beside the weights (activations, caches, the runtime): the larger of 384 MiB and 8% of the weights. */
const WORKSPACE_MIN = 384 * 2 ** 20;
const WORKSPACE_SHARE = 0.08;

export interface MemoryEstimate {
  /** The weights as they will be held (mapped as stored, or read into float32). */
  weights: number;
  workspace: number;
  total: number;
}

export function estimateMemory(entries: readonly Pick<TensorEntry, 'dtype' | 'shape'>[], mapped: boolean): MemoryEstimate {
  const weights = entries.reduce((sum, entry) => sum + residentBytes(entry, mapped), 0);
  const workspace = Math.max(WORKSPACE_MIN, WORKSPACE_SHARE * weights);
  return { weights, workspace, total: weights + workspace };
}

/**
 * Bytes this process may still use: the kernel's MemAvailable (free memory
 * plus what the page cache can give back), capped by a cgroup's limit and by
 * `ELDER_MEMORY_LIMIT` (bytes, or with a K/M/G suffix) where set.
 */
export function availableMemory(): number {
  let available = readMeminfo('MemAvailable') ?? os.freemem();
  const cgroup = cgroupHeadroom();
  if (cgroup !== null) available = Math.min(available, cgroup);
  const limit = parseBytes(process.env.ELDER_MEMORY_LIMIT);
  if (limit !== null) available = Math.min(available, Math.max(0, limit - process.memoryUsage().rss));
  return available;
}

/** Refuses, in one line, a model whose estimate exceeds the memory available. */
export function checkFits(where: string, estimate: MemoryEstimate, available = availableMemory()): void {
  if (estimate.total <= available) return;
  throw new ResourceError(
    `${where}: the model needs about ${gib(estimate.total)} GiB (${gib(estimate.weights)} GiB of weights as held, ${gib(estimate.workspace)} GiB working memory), but ${gib(available)} GiB is available`,
  );
}

function gib(bytes: number): string {
  return (bytes / GIB).toFixed(1);
}

function readMeminfo(field: string): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** A cgroup v2 limit minus what the cgroup uses now, or null without a limit. */
function cgroupHeadroom(): number | null {
  try {
    const max = fs.readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (max === 'max') return null;
    const current = Number(fs.readFileSync('/sys/fs/cgroup/memory.current', 'utf8').trim());
    return Math.max(0, Number(max) - current);
  } catch {
    return null;
  }
}

/** "12G", "512M", "1048576" → bytes; null when unset. A malformed value is refused in one line. */
export function parseBytes(text: string | undefined): number | null {
  if (text === undefined || text === '') return null;
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(text.trim());
  if (match === null) throw new ResourceError(`ELDER_MEMORY_LIMIT must be a size such as 12G or 512M, got "${text}"`);
  const scale = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[match[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(match[1]) * scale;
}
