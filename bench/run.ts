// `npm run bench` entry: command latency (cli.ts), throughput through veth namespaces
// (throughput.ts) and BPF_PROG_TEST_RUN ns/packet (testrun.ts), each printed as a table with
// ratios against real iptables measured in the same run; results go to bench/results/latest.json
// (parts not run this time are kept from the previous file) and bench/results/chart.svg.
//
//   tsx bench/run.ts [--only cli,throughput,testrun] [--quick] [--seconds S]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { CLI_IMPLS, CLI_OPS, runCli, spawnOverheadMs, type CliPoint } from './cli.ts';
import { chartSvg, type Panel } from './lib/chart.ts';
import { BENCH_DIR, bpftablesBuilt, destroyAll } from './lib/ns.ts';
import { runTestRun, type TestRunPoint } from './testrun.ts';
import { FW_IMPLS, fmtPps, runThroughput, type Hook, type ThroughputPoint } from './throughput.ts';

type Part = 'cli' | 'throughput' | 'testrun';
const PARTS: Part[] = ['cli', 'throughput', 'testrun'];

interface Results {
  machine: { kernel: string; cpus: number; cpu: string; node: string };
  bpftablesBuilt: boolean;
  cli?: { at: string; quick: boolean; spawnOverheadMs: number; points: CliPoint[] };
  throughput?: { at: string; quick: boolean; seconds: number; points: ThroughputPoint[] };
  testrun?: { at: string; quick: boolean; points: TestRunPoint[] };
}

function parseArgs(argv: string[]): { only: Part[]; quick: boolean; seconds?: number } {
  let only = PARTS;
  let quick = false;
  let seconds: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a.includes('=') ? a.split('=')[1] : argv[++i];
      only = (v ?? '').split(',').map((s) => s.trim()) as Part[];
      for (const p of only) if (!PARTS.includes(p)) throw new Error(`bench: unknown part "${p}" (parts: ${PARTS.join(', ')})`);
    } else if (a === '--seconds') seconds = Number(argv[++i]);
    else if (a === '-h' || a === '--help') {
      console.log('usage: npm run bench -- [--only cli,throughput,testrun] [--quick] [--seconds S]');
      process.exit(0);
    } else throw new Error(`bench: unknown option ${a}`);
  }
  return { only, quick, seconds };
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

function cliTable(points: CliPoint[]): string {
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

function throughputTable(points: ThroughputPoint[], hook: Hook): string {
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

function notes(points: { note?: string; impl?: string; prog?: string }[]): string[] {
  return [...new Set(points.filter((p) => p.note).map((p) => `${p.impl ?? p.prog}: ${p.note}`))];
}

function targetsLine(points: ThroughputPoint[]): string {
  const r = (n: number): string => {
    const p = points.find((q) => q.hook === 'INPUT' && q.impl === 'bpftables' && q.rules === n);
    return p?.ratio == null ? 'n/a' : `${p.ratio.toFixed(2)}×`;
  };
  return `targets (bpftables, INPUT): ≥ 0.8× no-firewall at 10k rules → ${r(10000)}; ≥ 0.6× at 100k → ${r(100000)}`;
}

function writeChart(res: Results, file: string): void {
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

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('bench: needs root (network namespaces, BPF)');
  const resultsDir = join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const latest = join(resultsDir, 'latest.json');
  const prev: Partial<Results> = existsSync(latest) ? (JSON.parse(readFileSync(latest, 'utf8')) as Results) : {};
  const res: Results = {
    ...prev,
    machine: { kernel: release(), cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', node: process.version },
    bpftablesBuilt: bpftablesBuilt(),
  };
  const log = (s: string): void => console.log(s);
  const now = (): string => new Date().toISOString();
  if (!res.bpftablesBuilt) log('note: dist/bin/iptables not built yet: bpftables columns are n/a (npm run build)');

  if (opts.only.includes('cli')) {
    log('\n== Command latency (median wall ms; each op in its own scratch namespace) ==');
    const spawn = spawnOverheadMs(9);
    log(`  floor: fork+exec of /bin/true from the timer = ${spawn.toFixed(1)} ms (included in every number)`);
    const points = await runCli({ reps: opts.quick ? 3 : 7, restoreReps: opts.quick ? 2 : 5, ops: CLI_OPS.map((o) => o.op), log });
    res.cli = { at: now(), quick: opts.quick, spawnOverheadMs: spawn, points };
    log('\n' + cliTable(points));
    for (const n of notes(points)) log(`  note: ${n}`);
  }
  if (opts.only.includes('throughput')) {
    const seconds = opts.seconds ?? (opts.quick ? 1 : 2);
    const sizes = opts.quick ? [0, 1000, 10000] : [0, 1000, 10000, 100000];
    log(`\n== Throughput: sender → DUT (→ sink), ${seconds} s per point, ratio to no firewall of the same run ==`);
    const points = await runThroughput({ sizes, seconds, hooks: ['INPUT', 'FORWARD'], impls: FW_IMPLS, log });
    res.throughput = { at: now(), quick: opts.quick, seconds, points };
    for (const hook of ['INPUT', 'FORWARD'] as Hook[]) log('\n' + throughputTable(points, hook));
    log(targetsLine(points));
    for (const n of notes(points)) log(`  note: ${n}`);
  }
  if (opts.only.includes('testrun')) {
    log('\n== BPF_PROG_TEST_RUN ns/packet (INPUT hook, last rule matches) ==');
    const points = await runTestRun(opts.quick ? [1000, 10000] : [1000, 10000, 100000], log);
    res.testrun = { at: now(), quick: opts.quick, points };
    const empty = points.find((p) => p.prog === 'empty')?.nsPerPacket ?? null;
    log(
      '\n' +
        table(
          ['program', 'rules', 'ns/packet', 'minus empty'],
          points.map((p) => [p.prog, String(p.rules), p.nsPerPacket === null ? 'n/a' : String(p.nsPerPacket), p.prog === 'empty' || p.nsPerPacket === null || empty === null ? '' : String(p.nsPerPacket - empty)]),
        ),
    );
    log('target: classification ≤ 250 ns/packet at 10k rules');
    for (const n of notes(points)) log(`  note: ${n}`);
  }
  writeFileSync(latest, JSON.stringify(res, null, 2) + '\n');
  writeChart(res, join(resultsDir, 'chart.svg'));
  log(`\nwrote ${latest} and ${join(resultsDir, 'chart.svg')}`);
}

// Namespaces, generator processes and temp files are removed on every exit path.
let cleaning = false;
const cleanup = (): void => {
  if (cleaning) return;
  cleaning = true;
  destroyAll();
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, cleaning up`);
    cleanup();
    process.exit(130);
  });
}
try {
  await main();
} catch (e) {
  console.error((e as Error).message);
  process.exitCode = 1;
} finally {
  cleanup();
}
