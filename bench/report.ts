/** The suite's one table: every figure with its goal (if the issue sets one) and the command that reproduces it. */
import os from 'node:os';

export interface Row {
  measure: string;
  value: string;
  /** The goal as text, and whether this run met it. */
  goal?: { text: string; met: boolean };
  command: string;
}

export const quantile = (values: readonly number[], q: number): number => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? sorted[0]!;
};

export const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : `${value.toFixed(value < 10 ? 1 : 0)} ms`);

export function percentiles(values: readonly number[]): string {
  return `p50 ${ms(quantile(values, 0.5))} · p90 ${ms(quantile(values, 0.9))} · p99 ${ms(quantile(values, 0.99))} · max ${ms(quantile(values, 1))}`;
}

export function machineLine(): string {
  const [one, five] = os.loadavg();
  return `${os.cpus().length} CPUs, load average ${one!.toFixed(2)} (1 min) ${five!.toFixed(2)} (5 min)`;
}

export function printTable(rows: readonly Row[], header: string[]): void {
  const cells = rows.map((r) => [r.measure, r.value, r.goal ? `${r.goal.met ? 'met' : 'MISSED'}: ${r.goal.text}` : '', `\`${r.command}\``]);
  const titles = ['measure', 'result', 'goal', 'reproduce'];
  const widths = titles.map((t, i) => Math.max(t.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [...header, '', line(titles), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)];
  console.log(out.join('\n'));
}
