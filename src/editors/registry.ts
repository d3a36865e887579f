/**
 * Every editing method by name: how to build it, its default configuration,
 * and the settings a user may override (e.g. from `elder bench-edit
 * --settings`). The runner and the CLI ask this table what a method takes
 * instead of switching on its name.
 */

import type { DecoderLM } from '../models/decoder.js';
import { UsageError } from '../util/errors.js';
import { type AlphaEditConfig, AlphaEditEditor, defaultAlphaEditConfig } from './baselines/alphaedit.js';
import { defaultFtlConfig, type FtlConfig, FtlEditor } from './baselines/ft-l.js';
import { defaultGraceConfig, type GraceConfig, GraceEditor } from './baselines/grace.js';
import { defaultLoraConfig, type LoraConfig, LoraEditor } from './baselines/lora.js';
import { defaultMeloConfig, type MeloConfig, MeloEditor } from './baselines/melo.js';
import { defaultMemitConfig, type MemitConfig, MemitEditor } from './baselines/memit.js';
import { defaultRomeConfig, type RomeConfig, RomeEditor } from './baselines/rome.js';
import { defaultSeracConfig, type SeracConfig, SeracEditor } from './baselines/serac.js';
import { defaultTPatcherConfig, type TPatcherConfig, TPatcherEditor } from './baselines/t-patcher.js';
import { defaultWilkeConfig, type WilkeConfig, WilkeEditor } from './baselines/wilke.js';
import { defaultWiseConfig, type WiseConfig, WiseEditor } from './baselines/wise.js';
import type { EditorResources } from './common/resources.js';
import type { TokenizedEdit } from './edit.js';
import type { Editor } from './editor.js';
import { type ElderConfig, type ElderSettings, elderConfig, settingsOf } from './elder/config.js';
import type { RoutingLoss } from './elder/core-config.js';
import { ElderEditor } from './elder/editor.js';
import { requireSubjects } from './locate/subjects.js';

export const METHODS = [
  'elder',
  'elder-paper',
  'grace',
  'melo',
  'ft-l',
  'lora',
  't-patcher',
  'rome',
  'wilke',
  'memit',
  'alphaedit',
  'serac',
  'wise',
  'elder-noguide',
  'elder-balance',
] as const;
export type MethodName = (typeof METHODS)[number];

/** Each method's configuration: what its settings are, by name and type. */
interface MethodConfigs {
  elder: ElderSettings;
  'elder-paper': ElderSettings;
  'elder-noguide': ElderSettings;
  'elder-balance': ElderSettings;
  grace: GraceConfig;
  melo: MeloConfig;
  'ft-l': FtlConfig;
  lora: LoraConfig;
  't-patcher': TPatcherConfig;
  rome: RomeConfig;
  wilke: WilkeConfig;
  memit: MemitConfig;
  alphaedit: AlphaEditConfig;
  serac: SeracConfig;
  wise: WiseConfig;
}

/**
 * Per method, configuration fields to override (`{"elder": {"lr": 0.01}}`):
 * typed, so a misspelled name in code fails to compile; settings read from a
 * file are checked by {@link createEditor}, which refuses an unknown name.
 */
export type MethodSettings = { [M in MethodName]?: Partial<MethodConfigs[M]> };

interface MethodSpec<Config extends object> {
  /** The default settings on `model`, by name: the settings a user may override. */
  defaults(model: DecoderLM): object;
  /** The configuration actually run: the defaults with the (checked) overrides, completed by the method. */
  configure(model: DecoderLM, merged: object, overrides: Record<string, unknown>): Config;
  build(model: DecoderLM, config: Config, resources: EditorResources): Editor;
  /** Resources it cannot be built without (the locate-then-edit methods: key covariances). */
  needs?: ReadonlyArray<keyof EditorResources>;
  /** It writes each edit at the subject's last token, so every edit must name a subject its prompt contains. */
  needsSubjects?: boolean;
}

const asIs = <Config extends object>(_model: DecoderLM, merged: object): Config => merged as Config;

/**
 * ELDER from a preset with one routing loss (the default method, its two
 * ablations of the guided loss, the paper's): its settings by name, and
 * only the given ones passed on, so that the preset's rules (α follows the
 * rank, ε the code's size) see them.
 */
function elderSpec(preset: ElderConfig['preset'], routingLoss?: RoutingLoss): MethodSpec<ElderConfig> {
  const fixed: ElderSettings = routingLoss === undefined ? { preset } : { preset, routingLoss };
  return {
    defaults: (model) => settingsOf(elderConfig(model.config, fixed)),
    configure: (model, _merged, overrides) => elderConfig(model.config, { ...(overrides as ElderSettings), ...fixed }),
    build: (model, config) => new ElderEditor(model, config),
  };
}

/** A locate-then-edit method: its defaults as configured, built with the key covariances and the tokenizer it needs. */
function locateSpec<Config extends object>(
  defaults: (model: DecoderLM) => Config,
  build: (model: DecoderLM, config: Config, resources: EditorResources) => Editor,
): MethodSpec<object> {
  return {
    defaults,
    configure: asIs,
    build: (model, config, resources) => build(model, config as Config, resources),
    needs: ['keyCovariances', 'encode'],
    needsSubjects: true,
  };
}

const SPECS: { [M in MethodName]: MethodSpec<object> } = {
  elder: elderSpec('elder', 'guided') as MethodSpec<object>,
  'elder-noguide': elderSpec('elder', 'none') as MethodSpec<object>,
  'elder-balance': elderSpec('elder', 'balance') as MethodSpec<object>,
  'elder-paper': elderSpec('paper') as MethodSpec<object>,
  grace: { defaults: (model) => defaultGraceConfig(model), configure: asIs, build: (model, config) => new GraceEditor(model, config as never) },
  melo: { defaults: (model) => defaultMeloConfig(model), configure: asIs, build: (model, config) => new MeloEditor(model, config as never) },
  'ft-l': { defaults: (model) => defaultFtlConfig(model), configure: asIs, build: (model, config) => new FtlEditor(model, config as never) },
  lora: { defaults: (model) => defaultLoraConfig(model), configure: asIs, build: (model, config) => new LoraEditor(model, config as never) },
  't-patcher': { defaults: (model) => defaultTPatcherConfig(model), configure: asIs, build: (model, config) => new TPatcherEditor(model, config as never) },
  rome: locateSpec(defaultRomeConfig, (model, config: RomeConfig, resources) => new RomeEditor(model, config, resources)),
  wilke: locateSpec(defaultWilkeConfig, (model, config: WilkeConfig, resources) => new WilkeEditor(model, config, resources)),
  memit: locateSpec(defaultMemitConfig, (model, config: MemitConfig, resources) => new MemitEditor(model, config, resources)),
  alphaedit: locateSpec(defaultAlphaEditConfig, (model, config: AlphaEditConfig, resources) => new AlphaEditEditor(model, config, resources)),
  serac: {
    defaults: (model) => defaultSeracConfig(model),
    configure: asIs,
    build: (model, config, resources) => new SeracEditor(model, config as SeracConfig, resources),
    needs: ['trainingPhrasings'],
  },
  wise: {
    defaults: (model) => defaultWiseConfig(model),
    configure: asIs,
    build: (model, config, resources) => new WiseEditor(model, config as WiseConfig, resources),
  },
};

/** What each resource is, as a refusal names it. */
const NEEDS_TOLD: Record<keyof EditorResources, string> = {
  keyCovariances: 'key covariances (measure them with elder covariance)',
  encode: "the model's tokenizer",
  trainingPhrasings:
    'phrasings of facts outside the edited ones to train on (elder bench-edit takes the records after the edited ones: run fewer --edits than records)',
  note: 'a place for notes',
};

/** The resources `method` cannot be built without (see {@link EditorResources}). */
export function methodNeeds(method: MethodName): ReadonlyArray<keyof EditorResources> {
  return SPECS[method].needs ?? [];
}

/** Refuses, before any training, `edits` that `method` cannot place: a locate-then-edit method needs each edit's subject in its prompt. */
export function checkEditsFor(method: MethodName, edits: readonly TokenizedEdit[]): void {
  if (SPECS[method].needsSubjects === true) requireSubjects(method, edits);
}

/** Methods that write base weights from key covariances: ROME, WilKE, MEMIT, AlphaEdit. */
export const LOCATE_METHODS: readonly MethodName[] = METHODS.filter((method) => methodNeeds(method).includes('keyCovariances'));

export function isMethod(name: string): name is MethodName {
  return (METHODS as readonly string[]).includes(name);
}

/** The default configuration of `method` on `model`. */
export function methodDefaults(method: MethodName, model: DecoderLM): object {
  return SPECS[method].defaults(model);
}

/** Whether `method` draws random numbers from a `seed` setting (the runner then passes the run's seed). */
export function methodIsSeeded(method: MethodName, model: DecoderLM): boolean {
  return 'seed' in methodDefaults(method, model);
}

/**
 * A fresh editor of `method` over the (frozen, shared) model, and the
 * configuration it runs with. `resources`: what some methods need besides
 * (key covariances and the tokenizer for the locate-then-edit methods).
 */
export function createEditor(
  method: MethodName,
  model: DecoderLM,
  settings: MethodSettings = {},
  resources: EditorResources = {},
): { editor: Editor; config: object } {
  const spec = SPECS[method];
  const defaults = spec.defaults(model) as Record<string, unknown>;
  const overrides: Readonly<Record<string, unknown>> = settings[method] ?? {};
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in defaults)) throw new UsageError(`unknown setting "${key}" for ${method} (known: ${Object.keys(defaults).join(', ')})`);
    const expected = typeof defaults[key];
    if (typeof value !== expected || (typeof value === 'number' && !Number.isFinite(value)))
      throw new UsageError(
        `setting ${method}.${key} must be a ${expected === 'number' ? 'finite number' : expected}, got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))}`,
      );
  }
  for (const need of spec.needs ?? []) {
    if (resources[need] === undefined) throw new UsageError(`${method} needs ${NEEDS_TOLD[need]}`);
  }
  model.setRequiresGrad(false);
  const config = spec.configure(model, { ...defaults, ...overrides }, overrides);
  return { editor: spec.build(model, config, resources), config };
}
