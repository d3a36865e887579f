/**
 * Every editing method by name, with its default configuration and the
 * settings a user may override (e.g. from `elder bench-edit --settings`).
 */
import type { DecoderLM } from '../models/decoder.js';
import { UsageError } from '../util/errors.js';
import { defaultFtlConfig, FtlEditor } from './baselines/ft-l.js';
import { defaultGraceConfig, GraceEditor } from './baselines/grace.js';
import { defaultLoraConfig, LoraEditor } from './baselines/lora.js';
import { defaultMeloConfig, MeloEditor } from './baselines/melo.js';
import type { Editor } from './editor.js';
import { defaultElderConfig, type ElderConfig, paperElderConfig } from './elder/config.js';
import { ElderEditor } from './elder/editor.js';

export const METHODS = ['elder', 'elder-paper', 'grace', 'melo', 'ft-l', 'lora', 'elder-noguide', 'elder-balance'] as const;
export type MethodName = (typeof METHODS)[number];

/** Per method, configuration fields to override (`{"elder": {"lr": 0.01}}`). */
export type MethodSettings = Partial<Record<MethodName, Record<string, unknown>>>;

export function isMethod(name: string): name is MethodName {
  return (METHODS as readonly string[]).includes(name);
}

/** A fresh editor of `method` over the (frozen, shared) model, and the configuration it runs with. */
export function createEditor(method: MethodName, model: DecoderLM, settings: MethodSettings = {}): { editor: Editor; config: object } {
  const overrides = settings[method] ?? {};
  const checked = <T extends object>(defaults: T): T => {
    for (const key of Object.keys(overrides)) {
      if (!(key in defaults)) throw new UsageError(`unknown setting "${key}" for ${method} (known: ${Object.keys(defaults).join(', ')})`);
      const expected = typeof (defaults as Record<string, unknown>)[key];
      if (typeof overrides[key] !== expected) throw new UsageError(`setting ${method}.${key} must be a ${expected}, got ${JSON.stringify(overrides[key])}`);
    }
    return { ...defaults, ...overrides };
  };
  model.setRequiresGrad(false);
  switch (method) {
    case 'elder':
    case 'elder-noguide':
    case 'elder-balance': {
      const routingLoss: ElderConfig['routingLoss'] = method === 'elder' ? 'guided' : method === 'elder-noguide' ? 'none' : 'balance';
      const config = defaultElderConfig(model.config, { ...checked(defaultElderConfig(model.config)), routingLoss });
      return { editor: new ElderEditor(model, config), config };
    }
    case 'elder-paper': {
      const config = paperElderConfig(model.config, checked(paperElderConfig(model.config)));
      return { editor: new ElderEditor(model, config), config };
    }
    case 'grace': {
      const config = checked(defaultGraceConfig(model));
      return { editor: new GraceEditor(model, config), config };
    }
    case 'melo': {
      const config = checked(defaultMeloConfig(model));
      return { editor: new MeloEditor(model, config), config };
    }
    case 'ft-l': {
      const config = checked(defaultFtlConfig(model));
      return { editor: new FtlEditor(model, config), config };
    }
    case 'lora': {
      const config = checked(defaultLoraConfig(model));
      return { editor: new LoraEditor(model, config), config };
    }
  }
}
