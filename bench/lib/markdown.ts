// Markdown pieces shared by the benchmark reports: numbers, tables, summary rows and the
// machine-facts table.
import type { MachineFacts } from './host.ts';
import type { Summary } from './stats.ts';

/** ms for a table: one decimal under 10 ms, whole ms above; '–' when unknown. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return Math.abs(x) < 10 ? x.toFixed(1) : Math.round(x).toString();
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** A Markdown table; by default the first column left-aligned and the others right-aligned. */
export function table(head: readonly string[], rows: readonly (readonly string[])[], align?: string): string {
  const sep = align ?? head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ');
  return [row(head), `| ${sep} |`, ...rows.map(row)].join('\n');
}

/** A row of a `ms | p50 | p90 | p99 | max | n` table. */
export function summaryRow(label: string, s: Summary): string[] {
  return [label, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), String(s.n)];
}

/** The machine-facts table; `extra` rows go before the commit and the load average. */
export function machineTable(machine: MachineFacts, containerd: string, commit: string, extra: [string, string][] = []): string {
  return table(['machine', ''], [
    ['CPUs (nproc)', String(machine.nproc)],
    ['CPU', machine.cpuModel],
    ['memory', `${machine.memoryGiB} GiB`],
    ['kernel', machine.kernel],
    ['Node.js', machine.node],
    ['container runtime', containerd],
    ...extra,
    ['tskubelet commit', commit],
    ['load average at start (1/5/15 min)', machine.loadavg.map((x) => x.toFixed(2)).join(' / ')],
  ], '--- | ---');
}
