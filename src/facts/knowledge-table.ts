/** The base-knowledge table as Markdown, for the model card, the README and `elder eval-base`. */
import type { KnowledgeReport } from './knowledge.js';

const percent = (x: number) => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}`);

/** The subject column appears when the report measured it (reports of earlier models lack it). */
export function knowledgeTable(report: KnowledgeReport): string {
  const subject = report.relations.some((r) => r.subjectSeparation !== undefined && !Number.isNaN(r.subjectSeparation));
  const extra = (x: number) => (subject ? ` ${percent(x)} |` : '');
  const rows = report.relations.map(
    (r) => `| ${r.relation} | ${r.facts} | ${percent(r.train)} | ${percent(r.heldout)} | ${percent(r.separation)} |${extra(r.subjectSeparation)}`,
  );
  const facts = report.relations.reduce((n, r) => n + r.facts, 0);
  const mean = report.overall.subjectSeparation;
  return [
    `| Relation | Facts | Training phrasings (%) | Held-out phrasings (%) | Separation (%) |${subject ? ' Separation at the subject (%) |' : ''}`,
    `|---|---:|---:|---:|---:|${subject ? '---:|' : ''}`,
    ...rows,
    `| **mean over relations** | ${facts} | **${percent(report.overall.train)}** | **${percent(report.overall.heldout)}** | **${percent(report.overall.separation)}** |${subject ? ` **${percent(mean)}** |` : ''}`,
  ].join('\n');
}
