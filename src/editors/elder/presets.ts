/**
 * ELDER's two presets, side by side. Every setting's own default (in its
 * component's table) is the paper's value (Li et al., AAAI 2025), so `paper`
 * is the tables as they are; `elder` lists, next to it, where elder's
 * default departs from the paper, each departure measured on elder-facts
 * (docs/decisions.md gives the reasons and figures). A value is a setting's
 * default; a rule computes it from the model and the settings before it.
 */
import { defaultBlockRange } from '../common/sites.js';
import { blockRules, SAME_AS_RANK } from './core-config.js';

export type ElderPreset = 'elder' | 'paper';
export const ELDER_PRESETS: readonly ElderPreset[] = ['elder', 'paper'];

/** Each preset's settings that depart from their tables' defaults (the gate among them). */
export const PRESETS: Readonly<Record<ElderPreset, { settings: Readonly<Record<string, unknown>> }>> = {
  paper: { settings: {} },
  elder: {
    settings: {
      gate: 'subject',
      ...blockRules('up to six ending at 84% of the depth, from the upper half', defaultBlockRange),
      rank: 64,
      alpha: SAME_AS_RANK,
      lr: 2e-3,
      trainEnding: true,
      replay: 8,
      freshCodes: true,
    },
  },
};
