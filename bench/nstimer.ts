// Runs a timing plan inside a namespace (`ip netns exec NS node --import tsx bench/nstimer.ts`),
// so `ip netns exec`'s own set-up (setns, remounting /sys) is not part of any measurement, yet
// every command runs in exactly the environment a user's `ip netns exec` gives it.
// Plan (JSON on stdin): `setup` steps run once (a failure stops the plan), then `round` is
// repeated `reps` times, or fewer (never under `minReps`) once `budgetMs` of wall time has
// been spent, so a slow implementation cannot stretch the bench without bound. A step with
// `label` is timed (wall clock around spawnSync, stdout to /dev/null like a user redirecting
// it); unlabelled round steps are untimed clean-up.
// Output (JSON on stdout): { times: { label: ms[] }, errors: { label: "first error" } }.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface Step {
  argv: string[];
  stdinFile?: string;
  label?: string;
  /** Exit codes that count as success (default [0]). */
  ok?: number[];
}

export interface Plan {
  setup: Step[];
  round: Step[];
  reps: number;
  minReps: number;
  budgetMs: number;
}

export interface TimerOutput {
  times: Record<string, number[]>;
  errors: Record<string, string>;
}

function runStep(s: Step): { ms: number; err?: string } {
  const fd = s.stdinFile ? openSync(s.stdinFile, 'r') : 'ignore';
  const t0 = process.hrtime.bigint();
  const r = spawnSync(s.argv[0], s.argv.slice(1), { stdio: [fd, 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (typeof fd === 'number') closeSync(fd);
  if ((s.ok ?? [0]).includes(r.status ?? -1)) return { ms };
  return { ms, err: `${s.argv.slice(0, 3).join(' ').replace(/^\S*\//, '')} exited ${r.status ?? r.signal}: ${String(r.stderr ?? r.error ?? '').trim().split('\n')[0]}` };
}

function main(): TimerOutput {
  const plan = JSON.parse(readFileSync(0, 'utf8')) as Plan;
  const out: TimerOutput = { times: {}, errors: {} };
  for (const s of plan.setup) {
    const r = runStep(s);
    if (r.err) {
      out.errors.setup = r.err;
      return out;
    }
  }
  const t0 = Date.now();
  for (let i = 0; i < plan.reps; i++) {
    if (i >= plan.minReps && Date.now() - t0 > plan.budgetMs) break;
    for (const s of plan.round) {
      const r = runStep(s);
      if (r.err) {
        out.errors[s.label ?? 'cleanup'] ??= r.err;
        continue;
      }
      if (s.label) (out.times[s.label] ??= []).push(r.ms);
    }
  }
  return out;
}

process.stdout.write(JSON.stringify(main()));
