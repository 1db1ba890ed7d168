// Renders bench results (tables for the terminal and Markdown, the SVG chart). Used by run.ts
// after a run and by report.ts to re-render bench/results/ from latest.json.
import { writeFileSync } from 'node:fs';
import { CLI_IMPLS, CLI_OPS, type CliPoint } from '../cli.ts';
import type { TestRunPoint } from '../testrun.ts';
import { FW_IMPLS, fmtPps, type Hook, type ThroughputPoint } from '../throughput.ts';
import { chartSvg, type Panel } from './chart.ts';

export interface Results {
  machine: { kernel: string; cpus: number; cpu: string; node: string };
  bpftablesBuilt: boolean;
  cli?: { at: string; quick: boolean; spawnOverheadMs: number; points: CliPoint[] };
  throughput?: { at: string; quick: boolean; seconds: number; generator?: string; points: ThroughputPoint[] };
  testrun?: { at: string; quick: boolean; points: TestRunPoint[] };
}

export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function cliTable(points: CliPoint[]): string {
  const rows = CLI_OPS.filter((o) => points.some((p) => p.op === o.op)).map((o) => {
    const get = (impl: string): CliPoint | undefined => points.find((p) => p.op === o.op && p.impl === impl);
    const cells = CLI_IMPLS.map((impl) => {
      const p = get(impl);
      return p?.ms == null ? 'n/a' : `${p.ms.toFixed(1)} ms`;
    });
    const b = get('bpftables')?.ms;
    const l = get('iptables-legacy')?.ms;
    const ratio = b != null && l != null ? b / l : null;
    const target = o.target.ratio !== undefined ? `≤ ${o.target.ratio}× legacy` : o.target.ms !== undefined ? `≤ ${o.target.ms} ms` : '';
    let met = '';
    if (o.target.ratio !== undefined && ratio !== null) met = ratio <= o.target.ratio ? 'yes' : 'NO';
    if (o.target.ms !== undefined && b != null) met = b <= o.target.ms ? 'yes' : 'NO';
    if (target && !met) met = 'n/a';
    return [o.title, ...cells, ratio === null ? 'n/a' : `${ratio.toFixed(2)}×`, target, met];
  });
  return table(['operation', ...CLI_IMPLS, 'bpft/legacy', 'target', 'met'], rows);
}

export function throughputTable(points: ThroughputPoint[], hook: Hook): string {
  const sizes = [...new Set(points.filter((p) => p.hook === hook && p.impl !== 'none').map((p) => p.rules))].sort((a, b) => a - b);
  const none = points.find((p) => p.hook === hook && p.impl === 'none');
  const impls = FW_IMPLS.filter((i) => i !== 'none');
  const rows = sizes.map((n) => [
    String(n),
    none?.pps == null ? 'n/a' : fmtPps(none.pps),
    ...impls.map((impl) => {
      const p = points.find((q) => q.hook === hook && q.impl === impl && q.rules === n);
      return p?.pps == null ? 'n/a' : `${fmtPps(p.pps)} (${p.ratio?.toFixed(2) ?? '?'}×)`;
    }),
  ]);
  return table([`${hook} rules`, 'no firewall', ...impls], rows);
}

export function notes(points: { note?: string; impl?: string; prog?: string }[]): string[] {
  return [...new Set(points.filter((p) => p.note).map((p) => `${p.impl ?? p.prog}: ${p.note}`))];
}

export function targetsLine(points: ThroughputPoint[]): string {
  const r = (n: number): string => {
    const p = points.find((q) => q.hook === 'INPUT' && q.impl === 'bpftables' && q.rules === n);
    return p?.ratio == null ? 'n/a' : `${p.ratio.toFixed(2)}×`;
  };
  return `targets (bpftables, INPUT): ≥ 0.8× no-firewall at 10k rules → ${r(10000)}; ≥ 0.6× at 100k → ${r(100000)}`;
}

export function writeChart(res: Results, file: string): void {
  const panels: Panel[] = [];
  const tp = res.throughput?.points ?? [];
  for (const hook of ['INPUT', 'FORWARD'] as Hook[]) {
    const sizes = [...new Set(tp.filter((p) => p.hook === hook && p.impl !== 'none').map((p) => p.rules))].sort((a, b) => a - b);
    if (sizes.length === 0) continue;
    const none = tp.find((p) => p.hook === hook && p.impl === 'none')?.pps ?? null;
    panels.push({
      title: `Throughput, ${hook} (pps at sink)`,
      xLabels: sizes.map((n) => (n >= 1000 ? `${n / 1000}k` : String(n))),
      yLabel: 'packets/s (log)',
      series: [
        { name: 'no firewall', values: sizes.map(() => none) },
        ...FW_IMPLS.filter((i) => i !== 'none').map((impl) => ({
          name: impl,
          values: sizes.map((n) => tp.find((p) => p.hook === hook && p.impl === impl && p.rules === n)?.pps ?? null),
        })),
      ],
    });
  }
  const cp = res.cli?.points ?? [];
  const restoreOps = ['restore-1k', 'restore-10k', 'restore-50k'] as const;
  if (cp.some((p) => p.op.startsWith('restore-'))) {
    panels.push({
      title: 'iptables-restore time vs ruleset size',
      xLabels: ['1k', '10k', '50k'],
      yLabel: 'ms (log)',
      series: CLI_IMPLS.map((impl) => ({ name: impl, values: restoreOps.map((op) => cp.find((p) => p.op === op && p.impl === impl)?.ms ?? null) })),
    });
  }
  const single = CLI_OPS.filter((o) => !o.op.startsWith('restore-') && cp.some((p) => p.op === o.op));
  if (single.length) {
    panels.push({
      title: 'Single commands at a 10k-rule chain',
      xLabels: single.map((o) => o.title.replace(' at 10k', '').replace(' (--version)', '')),
      yLabel: 'ms (log)',
      series: CLI_IMPLS.map((impl) => ({ name: impl, values: single.map((o) => cp.find((p) => p.op === o.op && p.impl === impl)?.ms ?? null) })),
    });
  }
  const when = [res.cli?.at, res.throughput?.at].filter(Boolean).join(' / ');
  writeFileSync(file, chartSvg('bpftables bench', panels, `${res.machine.cpus} vCPU, kernel ${res.machine.kernel}, ${when}. Missing series = n/a (see latest.json notes).`));
}


export function testrunTable(points: TestRunPoint[]): string {
  const empty = points.find((p) => p.prog === 'empty')?.nsPerPacket ?? null;
  return table(
    ['program', 'rules', 'ns/packet', 'minus empty'],
    points.map((p) => [p.prog, String(p.rules), p.nsPerPacket === null ? 'n/a' : String(p.nsPerPacket), p.prog === 'empty' || p.nsPerPacket === null || empty === null ? '' : String(p.nsPerPacket - empty)]),
  );
}

/** bench/results/latest.md: the same tables as the terminal, for the README. */
export function writeMarkdown(res: Results, file: string): void {
  const out: string[] = [`Machine: ${res.machine.cpus} vCPU (${res.machine.cpu}), kernel ${res.machine.kernel}, Node ${res.machine.node}.`, ''];
  const block = (title: string, body: string, extra: string[] = []): void => {
    out.push(`### ${title}`, '', '```', body, ...extra, '```', '');
  };
  if (res.cli) block(`Command latency, median ms (${res.cli.at}${res.cli.quick ? ', --quick' : ''}; fork+exec floor ${res.cli.spawnOverheadMs.toFixed(1)} ms)`, cliTable(res.cli.points), notes(res.cli.points).map((n) => `note: ${n}`));
  if (res.throughput) {
    const tp = res.throughput.points;
    block(
      `Throughput, pps at the sink and ratio to no firewall (${res.throughput.at}, ${res.throughput.seconds} s per point${res.throughput.generator ? `, sender: ${res.throughput.generator}` : ""})`,
      (['INPUT', 'FORWARD'] as Hook[]).filter((h) => tp.some((p) => p.hook === h)).map((h) => throughputTable(tp, h)).join('\n\n'),
      [targetsLine(tp), ...notes(tp).map((n) => `note: ${n}`)],
    );
  }
  if (res.testrun) block(`BPF_PROG_TEST_RUN ns/packet, INPUT (${res.testrun.at})`, testrunTable(res.testrun.points), ['target: classification ≤ 250 ns/packet for 5 fields at 10k rules (bpftables-5f)', ...notes(res.testrun.points).map((n) => `note: ${n}`)]);
  writeFileSync(file, out.join('\n'));
}
