/**
 * The "Current Details" an operator reads on a run's page in the Temporal Web UI: what stage the
 * evaluation is in and, while it is held, everything needed to decide. Pure and deterministic
 * (workflow code): built only from the workflow's own state.
 */
import type { FindingExcerpt } from './activities';
import type { Finding } from '../domain/evaluation';

export function scanningDetails(): string {
  return '**Scanning** the submitted code. Nothing runs until the scan allows it or a reviewer approves it.';
}

export function heldDetails(input: {
  evaluationId: string;
  findings: Finding[];
  findingCount: number;
  excerpts: FindingExcerpt[];
  codeHead?: { text: string; totalBytes: number };
  deadline: string;
}): string {
  const lines = [
    `## Held for review until ${input.deadline}`,
    `No decision by then rejects it. ${input.findingCount} finding(s); the code has not run.`,
    '',
    '### Findings',
    ...input.findings
      .slice(0, 20)
      .map((f) => `- **${f.severity}** \`${f.ruleId}\` at ${f.file ? `${f.file} ` : ''}line ${f.line}: ${f.message}`),
    ...(input.findingCount > 20 ? [`- … and ${input.findingCount - 20} more (GET /v1/evaluations/${input.evaluationId})`] : []),
  ];
  for (const excerpt of input.excerpts) {
    lines.push('', `\`${excerpt.ruleId}\`, ${excerpt.file ? `${excerpt.file} ` : ''}line ${excerpt.line}:`, '```');
    excerpt.lines.forEach((text, i) => {
      const n = excerpt.firstLine + i;
      lines.push(`${n === excerpt.line ? '>' : ' '}${String(n).padStart(4)} | ${text.replace(/```/g, "'''")}`);
    });
    lines.push('```');
  }
  if (input.codeHead) {
    const shownBytes = new TextEncoder().encode(input.codeHead.text).byteLength;
    const whole = shownBytes >= input.codeHead.totalBytes;
    lines.push(
      '',
      whole
        ? `### The code (${input.codeHead.totalBytes} bytes)`
        : `### The code (first ${shownBytes} of ${input.codeHead.totalBytes} bytes)`,
    );
    lines.push('```', input.codeHead.text.replace(/```/g, "'''"), '```');
  }
  lines.push(
    '',
    '### To decide',
    '- **Approve:** Update → `approve` with a reason as input, e.g. `"only reads the working directory"`, or `{"reason": "…", "by": "your name"}`.',
    '- **Reject:** Update → `reject`, same input.',
    `- Or through the API: \`POST /v1/evaluations/${input.evaluationId}/approve\` (or \`/reject\`) with \`{"reason": "…"}\`.`,
    `- The whole code: \`GET /v1/evaluations/${input.evaluationId}/code\`.`,
  );
  return lines.join('\n');
}

export function runningDetails(startedAt: string, decidedBy?: string): string {
  return [
    `**Running** in the sandbox since ${startedAt}.`,
    ...(decidedBy ? [`Approved by ${decidedBy}.`] : []),
    'Request Cancellation kills the program within seconds and stores `cancelled`.',
  ].join('\n');
}

export function bundleDetails(input: {
  startedAt: string;
  total: number;
  finished: number;
  running: number;
  counts: Record<string, number>;
  stopping: boolean;
}): string {
  const tally = Object.entries(input.counts)
    .filter(([, n]) => n > 0)
    .map(([verdict, n]) => `${verdict} ${n}`)
    .join(', ');
  return [
    `**Running test cases** since ${input.startedAt}: ${input.finished} of ${input.total} finished, ${input.running} running.`,
    ...(tally ? [`So far: ${tally}.`] : []),
    ...(input.stopping ? ['A case was not accepted: no further case starts (stop at first failure).'] : []),
    'Request Cancellation kills the running cases within seconds, starts no more, and stores `cancelled`.',
  ].join('\n');
}

export function finishedDetails(input: {
  status: string;
  verdict?: string;
  error?: string;
  exitCode?: number | null;
  timeMs?: number;
  preview?: { stdout: string; stderr: string; stdoutBytes: number; stderrBytes: number };
}): string {
  const lines = [`**${input.status}**${input.verdict ? `: ${input.verdict}` : ''}`];
  if (input.error) lines.push('', input.error);
  if (input.timeMs !== undefined) lines.push('', `exit code ${input.exitCode ?? 'none (signal)'}, ${input.timeMs} ms`);
  if (input.preview) {
    lines.push('', `stdout (${input.preview.stdoutBytes} bytes):`, fenced(input.preview.stdout));
    if (input.preview.stderrBytes > 0) lines.push(`stderr (${input.preview.stderrBytes} bytes):`, fenced(input.preview.stderr));
  }
  return lines.join('\n');
}

export function refusedDetails(reason: string): string {
  return [
    '**Refused:** this run is not the one that owns the evaluation, so it changed nothing and ran nothing.',
    '',
    reason,
    '',
    'Reset, "Start Workflow Like This One" and hand-started runs of an evaluation are refused by design; submit the code again through the API to run it again.',
  ].join('\n');
}

function fenced(text: string): string {
  return ['```', text.replace(/```/g, "'''"), '```'].join('\n');
}
