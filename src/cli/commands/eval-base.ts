import { elderConfig } from '../../editors/elder/config.js';
import { querySiteOf } from '../../editors/elder/core-config.js';
import { type SubjectGateConfig, subjectSiteOf } from '../../editors/elder/gates/subject-gate.js';
import { defaultGeneralTextPath, readGeneralText } from '../../facts/general-text.js';
import { type KnowledgeReport, measureKnowledge } from '../../facts/knowledge.js';
import { knowledgeTable } from '../../facts/knowledge-table.js';
import { generalTextPerplexity } from '../../facts/perplexity.js';
import { defaultFactTablePath, readFactTable } from '../../facts/table.js';
import { resolveModelDir } from '../../models/default-model.js';
import { loadModel } from '../../models/load.js';
import { requireTokenizer } from '../../models/tokenizer.js';
import { Progress } from '../../util/progress.js';
import { type CommandSpec, MODEL_OPTION, numberOption, optionalString, parseOptions } from '../args.js';
import { blockRangeOption } from '../elder-options.js';

export const EVAL_BASE_COMMAND: CommandSpec = {
  name: 'eval-base',
  summary:
    "What the base model knows of the fact table, per relation: training and held-out phrasings, separation at ELDER's query, and perplexity on held-out general text.",
  options: {
    ...MODEL_OPTION,
    facts: { type: 'string', value: 'FILE', help: 'the fact table', default: 'bench/data/facts/facts.json' },
    general: { type: 'string', value: 'FILE', help: 'held-out general text', default: "the facts model's held-out text" },
    'facts-per-relation': { type: 'string', value: 'N', help: 'measure only the first N facts of each relation', default: 'all' },
    'train-templates': { type: 'string', value: 'N', help: 'training templates tried per fact', default: '3' },
    blocks: {
      type: 'string',
      value: 'a-b',
      help: 'measure the separation where an ELDER editing blocks a-b reads its query (block a−1) and subject key',
      default: "ELDER's default blocks for the model's depth",
    },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
};

/** The issue's targets for a knowledge model worth editing. */
export const KNOWLEDGE_TARGETS = { train: 0.9, heldout: 0.6, separation: 0.8 } as const;

export interface BaseEvaluation extends KnowledgeReport {
  model: string;
  perplexity: number;
  generalTokens: number;
  targets: typeof KNOWLEDGE_TARGETS;
  /** Relations below a target, with the measure that missed. */
  misses: Array<{ relation: string; measure: 'train' | 'heldout' | 'separation'; value: number }>;
}

/**
 * `elder eval-base`: what the base model knows of the fact table, per
 * relation, and its perplexity on held-out general text.
 */
export function evalBaseCommand(argv: string[]): void {
  const options = parseOptions(argv, EVAL_BASE_COMMAND);
  const dir = resolveModelDir(optionalString(options, 'model'));
  const { model, tokenizer: maybeTokenizer } = loadModel(dir);
  const tokenizer = requireTokenizer(maybeTokenizer, dir);
  const table = readFactTable(optionalString(options, 'facts') ?? defaultFactTablePath());
  const general = readGeneralText(optionalString(options, 'general') ?? defaultGeneralTextPath());
  const factsPerRelation =
    options.values['facts-per-relation'] === undefined ? undefined : numberOption(options, 'facts-per-relation', 0, { min: 1, integer: true });
  const trainTemplates = numberOption(options, 'train-templates', 3, { min: 1, max: 12, integer: true });
  // The subject gate's sites under elder's defaults: what the gate reads is what separation measures.
  const elderDefaults = elderConfig(model.config, { ...blockRangeOption(options), gate: 'subject' });
  const querySite = querySiteOf(model, elderDefaults.core);
  const subjectSite = subjectSiteOf(model, elderDefaults.core, elderDefaults.gate as SubjectGateConfig);

  const progress = new Progress(1, 'prompts');
  const report = measureKnowledge(model, tokenizer, table, {
    trainTemplatesPerFact: trainTemplates,
    querySite,
    subjectSite,
    factsPerRelation,
    batchSize: 32,
    separation: true,
    onProgress: (done, total) => progress.update(done / total, `${done} of ${total} scored`, { transient: true }),
  });
  const { perplexity, tokens } = generalTextPerplexity(model, tokenizer, general);
  const misses: BaseEvaluation['misses'] = [];
  for (const r of report.relations) {
    for (const measure of ['train', 'heldout', 'separation'] as const)
      if (r[measure] < KNOWLEDGE_TARGETS[measure]) misses.push({ relation: r.relation, measure, value: r[measure] });
  }
  const result: BaseEvaluation = { model: dir, ...report, perplexity, generalTokens: tokens, targets: KNOWLEDGE_TARGETS, misses };
  if (options.values.json === true) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  process.stderr.write('\n');
  console.log(knowledgeTable(report));
  console.log(`\nPerplexity on held-out general text: ${perplexity.toFixed(1)} (${tokens.toLocaleString('en-US')} tokens).`);
  console.log(
    `Targets: training phrasings ≥ ${100 * KNOWLEDGE_TARGETS.train}%, held-out ≥ ${100 * KNOWLEDGE_TARGETS.heldout}%, separation ≥ ${100 * KNOWLEDGE_TARGETS.separation}% per relation: ${
      misses.length === 0
        ? 'all met.'
        : `${misses.length} missed (${misses.map((m) => `${m.relation} ${m.measure} ${(100 * m.value).toFixed(1)}%`).join(', ')}).`
    }`,
  );
  // Where a relation's separation misses come from: which held-out phrasings its queries stray in.
  const separationMisses = report.relations.filter((r) => misses.some((m) => m.relation === r.relation && m.measure === 'separation'));
  if (separationMisses.length > 0) console.log('\nSeparation by held-out phrasing, for the relations below target:');
  for (const r of separationMisses) {
    console.log(`  ${r.relation}: ${r.separationByTemplate.map((t) => `${(100 * t.share).toFixed(0)}% "${t.template}"`).join(' · ')}`);
  }
}
