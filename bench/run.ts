// `npm run bench` entry: command latency (cli.ts), throughput through veth namespaces
// (throughput.ts) and BPF_PROG_TEST_RUN ns/packet (testrun.ts), each printed as a table with
// ratios against real iptables measured in the same run; results go to bench/results/latest.json
// (parts not run this time are kept from the previous file) and bench/results/chart.svg.
//
//   tsx bench/run.ts [--only cli,throughput,testrun] [--quick] [--seconds S]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { CLI_OPS, runCli, spawnOverheadMs } from './cli.ts';
import { BENCH_DIR, bpftablesBuilt, destroyAll } from './lib/ns.ts';
import { cliTable, notes, targetsLine, testrunTable, throughputTable, writeChart, writeMarkdown, type Results } from './lib/report.ts';
import { runTestRun } from './testrun.ts';
import { FW_IMPLS, generatorKind, runThroughput, type FwImpl, type Hook } from './throughput.ts';

type Part = 'cli' | 'throughput' | 'testrun';
const PARTS: Part[] = ['cli', 'throughput', 'testrun'];

interface Args {
  only: Part[];
  quick: boolean;
  seconds?: number;
  /** Throughput subset (default: every size, hook and firewall). */
  sizes?: number[];
  hooks?: Hook[];
  impls?: FwImpl[];
}

function parseArgs(argv: string[]): Args {
  let only = PARTS;
  let quick = false;
  let seconds: number | undefined;
  let sizes: number[] | undefined;
  let hooks: Hook[] | undefined;
  let impls: FwImpl[] | undefined;
  const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a.includes('=') ? a.split('=')[1] : argv[++i];
      only = (v ?? '').split(',').map((s) => s.trim()) as Part[];
      for (const p of only) if (!PARTS.includes(p)) throw new Error(`bench: unknown part "${p}" (parts: ${PARTS.join(', ')})`);
    } else if (a === '--seconds') seconds = Number(argv[++i]);
    else if (a === '--sizes') sizes = list(argv[++i]).map(Number);
    else if (a === '--hooks') hooks = list(argv[++i]) as Hook[];
    else if (a === '--impls') {
      impls = list(argv[++i]) as FwImpl[];
      for (const x of impls) if (!FW_IMPLS.includes(x)) throw new Error(`bench: unknown firewall "${x}" (${FW_IMPLS.join(', ')})`);
      if (!impls.includes('none')) impls.unshift('none');
    }
    else if (a === '-h' || a === '--help') {
      console.log('usage: npm run bench -- [--only cli,throughput,testrun] [--quick] [--seconds S] [--sizes 0,1000,...] [--hooks INPUT,FORWARD] [--impls none,bpftables,...]');
      process.exit(0);
    } else throw new Error(`bench: unknown option ${a}`);
  }
  return { only, quick, seconds, sizes, hooks, impls };
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
    const sizes = opts.sizes ?? (opts.quick ? [0, 1000, 10000] : [0, 1000, 10000, 100000]);
    log(`\n== Throughput: sender → DUT (→ sink), ${seconds} s per point, ratio to no firewall of the same run ==`);
    const hooks = opts.hooks ?? (['INPUT', 'FORWARD'] as Hook[]);
    const points = await runThroughput({ sizes, seconds, hooks, impls: opts.impls ?? FW_IMPLS, log });
    log(`  generator: ${generatorKind ?? 'none started'}`);
    res.throughput = { at: now(), quick: opts.quick, seconds, generator: generatorKind, points };
    for (const hook of hooks) log('\n' + throughputTable(points, hook));
    log(targetsLine(points));
    for (const n of notes(points)) log(`  note: ${n}`);
  }
  if (opts.only.includes('testrun')) {
    log('\n== BPF_PROG_TEST_RUN ns/packet (INPUT hook, last rule matches) ==');
    const points = await runTestRun(opts.quick ? [1000, 10000] : [1000, 10000, 100000], log);
    res.testrun = { at: now(), quick: opts.quick, points };
    log('\n' + testrunTable(points));
    log('target: classification ≤ 250 ns/packet for 5 fields at 10k rules (bpftables-5f)');
    for (const n of notes(points)) log(`  note: ${n}`);
  }
  writeFileSync(latest, JSON.stringify(res, null, 2) + '\n');
  writeChart(res, join(resultsDir, 'chart.svg'));
  writeMarkdown(res, join(resultsDir, 'latest.md'));
  log(`\nwrote ${latest}, latest.md and chart.svg in ${resultsDir}`);
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
