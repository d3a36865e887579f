/**
 * Rehearsal (elder's addition; the paper trains each batch alone): earlier
 * edits share experts with new ones, and without rehearsal each batch
 * overwrites what earlier batches put there. Two parts: replaying earlier
 * edits next to every batch, and fresh codes, re-routing every live edit's
 * remembered query after each batch, because later batches move the routers
 * and a stored code goes stale.
 */
import type { EditMemory } from './frozen.js';
import type { SettingsOf, SettingsTable } from './settings.js';

/** Rehearsal's settings; the defaults are the paper's (none). */
export const REHEARSAL_SETTINGS = [
  { name: 'replay', type: 'integer', min: 0, scope: 'run', value: 'N', help: 'earlier edits rehearsed in every iteration next to the batch', default: 0 },
  {
    name: 'freshCodes',
    type: 'boolean',
    scope: 'run',
    help: "re-route every live edit's remembered query after each batch and store that code",
    default: false,
  },
] as const satisfies SettingsTable;

export type RehearsalConfig = SettingsOf<typeof REHEARSAL_SETTINGS>;

/** Remembered edits in the order they were applied (replay samples depend on the order). */
export class ReplayMemory {
  private readonly byId = new Map<string, EditMemory>();

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): EditMemory | undefined {
    return this.byId.get(id);
  }

  /** Every remembered edit, oldest first. */
  all(): EditMemory[] {
    return [...this.byId.values()];
  }

  /** Remembers an edit last (a remembered one moves to the end). */
  add(memory: EditMemory): void {
    this.byId.delete(memory.id);
    this.byId.set(memory.id, memory);
  }

  forget(id: string): void {
    this.byId.delete(id);
  }
}
