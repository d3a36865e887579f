/** The base-knowledge table as Markdown, for the model card, the README and `elder eval-base`. */
import type { KnowledgeReport } from './knowledge.js';

const percent = (x: number) => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}`);

export function knowledgeTable(report: KnowledgeReport): string {
  const rows = report.relations.map((r) => `| ${r.relation} | ${r.facts} | ${percent(r.train)} | ${percent(r.heldout)} | ${percent(r.separation)} |`);
  const facts = report.relations.reduce((n, r) => n + r.facts, 0);
  return [
    '| Relation | Facts | Training phrasings (%) | Held-out phrasings (%) | Separation (%) |',
    '|---|---:|---:|---:|---:|',
    ...rows,
    `| **mean over relations** | ${facts} | **${percent(report.overall.train)}** | **${percent(report.overall.heldout)}** | **${percent(report.overall.separation)}** |`,
  ].join('\n');
}
