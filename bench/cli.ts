// Command latency, side by side: iptables-legacy, iptables-nft and bpftables (dist/bin/*).
// Every (implementation, operation) gets its own scratch namespace (`bpft-bench-cli-*`), the
// ruleset it needs is restored there first (not timed), then the operation is repeated and the
// median wall time reported, with the ratio bpftables / iptables-legacy. Times include one
// fork+exec from Node (the `spawn` row shows that overhead alone).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plan, Step, TimerOutput } from './nstimer.ts';
import { mixedRestore, mixedRules } from './lib/rulesets.ts';
import { BENCH_DIR, bpftablesBuilt, createNs, deleteNs, DIST_BIN, median, NS_PREFIX, ROOT, sleep, tempDir } from './lib/ns.ts';

export type CliImpl = 'iptables-legacy' | 'iptables-nft' | 'bpftables';
export const CLI_IMPLS: CliImpl[] = ['iptables-legacy', 'iptables-nft', 'bpftables'];

export type CliOp =
  | 'restore-1k'
  | 'restore-10k'
  | 'restore-50k'
  | 'append'
  | 'insert'
  | 'delete-spec'
  | 'check'
  | 'list-S'
  | 'save'
  | 'list-Lnv'
  | 'startup';

export interface CliOpInfo {
  op: CliOp;
  title: string;
  /** Target for ratio bpftables/legacy (≤), or for the absolute bpftables time in ms. */
  target: { ratio?: number; ms?: number };
}

export const CLI_OPS: CliOpInfo[] = [
  { op: 'restore-1k', title: 'restore 1k rules', target: {} },
  { op: 'restore-10k', title: 'restore 10k rules', target: {} },
  { op: 'restore-50k', title: 'restore 50k rules', target: { ratio: 1 } },
  { op: 'append', title: '-A at 10k', target: { ratio: 2 } },
  { op: 'insert', title: '-I 1 at 10k', target: { ratio: 2 } },
  { op: 'delete-spec', title: '-D spec at 10k', target: { ratio: 2 } },
  { op: 'check', title: '-C at 10k', target: { ratio: 2 } },
  { op: 'list-S', title: '-S at 10k', target: { ratio: 2 } },
  { op: 'save', title: 'save at 10k', target: { ratio: 2 } },
  { op: 'list-Lnv', title: '-L -n -v at 10k', target: { ratio: 2 } },
  { op: 'startup', title: 'start-up (--version)', target: { ms: 10 } },
];

export interface CliPoint {
  impl: CliImpl;
  op: CliOp;
  /** Median ms, or null (see note). */
  ms: number | null;
  samples: number[];
  note?: string;
}

export interface CliOptions {
  reps: number;
  restoreReps: number;
  ops: CliOp[];
  log: (s: string) => void;
}

function tools(impl: CliImpl): { ipt: string; restore: string; save: string } {
  if (impl === 'bpftables') return { ipt: join(DIST_BIN, 'iptables'), restore: join(DIST_BIN, 'iptables-restore'), save: join(DIST_BIN, 'iptables-save') };
  const v = impl === 'iptables-legacy' ? 'legacy' : 'nft';
  return { ipt: `iptables-${v}`, restore: `iptables-${v}-restore`, save: `iptables-${v}-save` };
}

/** A rule spec that is not in the generated ruleset (TEST-NET-1 source). */
const EXTRA = ['-s', '192.0.2.1/32', '-p', 'tcp', '-m', 'tcp', '--dport', '22', '-j', 'ACCEPT'];

function splitArgs(rule: string): string[] {
  // The generated rules contain no quoting, so whitespace splitting is exact.
  return rule.split(/\s+/);
}

/** Repetitions stop early (never under MIN_REPS) once an (implementation, operation) has used this much wall time. */
const BUDGET_MS = 15_000;
const MIN_REPS = 3;

function plan(impl: CliImpl, op: CliOp, files: Record<string, string>, reps: number): Plan {
  const t = tools(impl);
  const base: Step = { argv: [t.restore, '-w'], stdinFile: files['10k'] };
  const p = (setup: Step[], round: Step[]): Plan => ({ setup, round, reps, minReps: Math.min(MIN_REPS, reps), budgetMs: BUDGET_MS });
  switch (op) {
    case 'restore-1k':
    case 'restore-10k':
    case 'restore-50k':
      return p([], [{ argv: [t.restore, '-w'], stdinFile: files[op.slice(8)], label: op }]);
    case 'append':
      return p([base], [{ argv: [t.ipt, '-w', '-A', 'INPUT', ...EXTRA], label: op }, { argv: [t.ipt, '-w', '-D', 'INPUT', '10001'] }]);
    case 'insert':
      return p([base], [{ argv: [t.ipt, '-w', '-I', 'INPUT', '1', ...EXTRA], label: op }, { argv: [t.ipt, '-w', '-D', 'INPUT', '1'] }]);
    case 'delete-spec':
      // Appended, so the search by spec walks the whole chain (iptables' worst case).
      return p([base], [{ argv: [t.ipt, '-w', '-A', 'INPUT', ...EXTRA] }, { argv: [t.ipt, '-w', '-D', 'INPUT', ...EXTRA], label: op }]);
    case 'check':
      return p([base], [{ argv: [t.ipt, '-w', '-C', 'INPUT', ...splitArgs(mixedRules(10000).at(-1)!)], label: op }]);
    case 'list-S':
      return p([base], [{ argv: [t.ipt, '-w', '-S'], label: op }]);
    case 'save':
      return p([base], [{ argv: [t.save], label: op }]);
    case 'list-Lnv':
      return p([base], [{ argv: [t.ipt, '-w', '-L', '-n', '-v'], label: op }]);
    case 'startup':
      return p([], [{ argv: [t.ipt, '--version'], label: op }]);
  }
}

let nsCounter = 0;

function runPlan(plan: Plan): TimerOutput {
  const ns = createNs(`${NS_PREFIX}cli-${process.pid}-${nsCounter++}`);
  try {
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(BENCH_DIR, 'nstimer.ts')], {
      cwd: ROOT,
      input: JSON.stringify(plan),
      encoding: 'utf8',
      timeout: 600_000,
    });
    if (r.status !== 0) return { times: {}, errors: { setup: `timer exited ${r.status ?? r.signal}: ${String(r.stderr).trim().split('\n').pop()}` } };
    return JSON.parse(r.stdout) as TimerOutput;
  } finally {
    deleteNs(ns);
  }
}

/** fork+exec of /bin/true from Node inside a namespace: the floor under every number. */
export function spawnOverheadMs(reps: number): number {
  const out = runPlan({ setup: [], round: [{ argv: ['/bin/true'], label: 'spawn' }], reps, minReps: reps, budgetMs: 60_000 });
  return median(out.times.spawn ?? []);
}

export async function runCli(o: CliOptions): Promise<CliPoint[]> {
  const tmp = tempDir();
  const dir = tmp.dir;
  const points: CliPoint[] = [];
  try {
    const files: Record<string, string> = {};
    for (const [k, n] of [['1k', 1000], ['10k', 10000], ['50k', 50000]] as const) {
      files[k] = join(dir, `mixed-${k}.rules`);
      writeFileSync(files[k], mixedRestore(n));
    }
    for (const op of o.ops) {
      const line: string[] = [];
      for (const impl of CLI_IMPLS) {
        const p: CliPoint = { impl, op, ms: null, samples: [] };
        points.push(p);
        if (impl === 'bpftables' && !bpftablesBuilt()) {
          p.note = 'not built (dist/bin/iptables missing)';
          line.push(`${impl} n/a`);
          continue;
        }
        const restore = op.startsWith('restore-');
        const reps = restore ? o.restoreReps : o.reps;
        const out: TimerOutput = { times: {}, errors: {} };
        // Restores each start from an empty namespace (same time budget, kept here); the other
        // operations share one namespace per implementation.
        const t0 = Date.now();
        for (let i = 0; i < (restore ? reps : 1); i++) {
          if (restore && i >= MIN_REPS && Date.now() - t0 > BUDGET_MS) break;
          // Yield so a SIGINT/SIGTERM handler can run (and clean up) between plans.
          await sleep(0);
          const r = runPlan(plan(impl, op, files, restore ? 1 : reps));
          for (const [k, v] of Object.entries(r.times)) (out.times[k] ??= []).push(...v);
          Object.assign(out.errors, r.errors, out.errors);
          // A failing command fails the same way again: do not spend the budget repeating it.
          if (Object.keys(r.errors).length > 0) break;
        }
        p.samples = out.times[op] ?? [];
        if (p.samples.length > 0 && !out.errors.setup) p.ms = median(p.samples);
        else p.note = out.errors.setup ?? out.errors[op] ?? 'no samples';
        if (p.ms !== null && out.errors[op]) p.note = `some runs failed: ${out.errors[op]}`;
        line.push(`${impl} ${p.ms === null ? `n/a (${p.note})` : `${p.ms.toFixed(1)} ms`}`);
      }
      o.log(`  ${op.padEnd(12)} ${line.join(' | ')}`);
    }
  } finally {
    tmp.remove();
  }
  return points;
}
