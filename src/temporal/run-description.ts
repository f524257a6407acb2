/**
 * What a run says about itself on its page in the Temporal Web UI, fixed at start: a one-line
 * summary (language, tenant, code size and hash, first line) and Markdown details (limits,
 * submitter metadata, where to read it in the API).
 */
import { createHash } from 'node:crypto';
import type { EvaluationRow } from '../db/evaluations';

const FIRST_LINE_CHARS = 60;

export interface RunDescription {
  tenant: string;
  staticSummary: string;
  staticDetails: string;
}

export function describeRun(row: EvaluationRow, publicUrl = ''): RunDescription {
  const code = Buffer.from(row.code);
  const sha = createHash('sha256').update(code).digest('hex');
  const firstLine =
    code
      .toString('utf8')
      .split('\n')
      .find((l) => l.trim() !== '') ?? '';
  const shown = firstLine.length > FIRST_LINE_CHARS ? `${firstLine.slice(0, FIRST_LINE_CHARS)}…` : firstLine;
  const metadata = Object.entries(row.metadata);
  const api = `${publicUrl}/v1/evaluations/${row.id}`;
  const details = [
    `**Evaluation** \`${row.id}\` of tenant \`${row.tenant}\`, ${row.language}, ${code.byteLength} bytes, sha256 \`${sha.slice(0, 16)}\``,
    '',
    '| limit | value |',
    '|---|---|',
    ...Object.entries(row.limits).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    metadata.length > 0 ? '**Submitter metadata**' : '_No submitter metadata._',
    ...metadata.map(([k, v]) => `- ${escape(k)}: ${escape(v)}`),
    '',
    `API: \`GET ${api}\` (the code: \`GET ${api}/code\`, events: \`GET ${api}/events\`)`,
  ];
  return {
    tenant: row.tenant,
    staticSummary: `${row.language} · ${row.tenant} · ${code.byteLength} B · sha256:${sha.slice(0, 12)} · ${JSON.stringify(shown)}`,
    staticDetails: details.join('\n'),
  };
}

function escape(text: string): string {
  return text
    .replace(/[\n\r]/g, ' ')
    .replace(/([*_`|[\]<>])/g, '\\$1')
    .slice(0, 200);
}
