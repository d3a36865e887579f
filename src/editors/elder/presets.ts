/**
 * ELDER's two presets, side by side. Every setting's own default (in its
 * component's table) is the paper's value (Li et al., AAAI 2025), so `paper`
 * is the tables as they are; `elder` lists, next to it, where elder's
 * default departs from the paper, each departure measured on elder-facts
 * (docs/decisions.md gives the reasons and figures). A value is a setting's
 * default; a rule computes it from the model and the settings before it.
 */
import { defaultBlockRange } from '../common/sites.js';
import { blockRules, type CoreConfig, SAME_AS_RANK } from './core-config.js';
import type { SubjectGateConfig } from './gates/subject-gate.js';
import type { RehearsalConfig } from './rehearsal.js';
import type { Rule } from './settings.js';
import type { TrainingConfig } from './training.js';

export type ElderPreset = 'elder' | 'paper';
export const ELDER_PRESETS: readonly ElderPreset[] = ['elder', 'paper'];

/** Every setting by name, with the type of its value (each gate's settings among them). */
export type ElderSettingValues = CoreConfig & TrainingConfig & RehearsalConfig & Omit<SubjectGateConfig, 'kind'> & { gate: 'code' | 'subject' };

/** What a preset may set: a value of the setting's type, or a rule computing one. */
export type PresetSettings = { readonly [Name in keyof ElderSettingValues]?: ElderSettingValues[Name] | Rule<never> };

/** Each preset's settings that depart from their tables' defaults (the gate among them). */
export const PRESETS: Readonly<Record<ElderPreset, { settings: PresetSettings }>> = {
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
      hiddenNoise: 0.2,
      queryNoise: 0.4,
    },
  },
};
