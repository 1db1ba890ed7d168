// Runs a timing plan inside a namespace (`ip netns exec NS node --import tsx bench/nstimer.ts`),
// so `ip netns exec`'s own set-up (setns, remounting /sys) is not part of any measurement, yet
// every command runs in exactly the environment a user's `ip netns exec` gives it.
// Plan (JSON on stdin): steps run in order; a step with `label` is timed (wall clock around
// spawnSync, stdout to /dev/null like a user redirecting it), others are set-up or clean-up.
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

export interface TimerOutput {
  times: Record<string, number[]>;
  errors: Record<string, string>;
}

const plan = JSON.parse(readFileSync(0, 'utf8')) as Step[];
const out: TimerOutput = { times: {}, errors: {} };
for (const s of plan) {
  const fd = s.stdinFile ? openSync(s.stdinFile, 'r') : 'ignore';
  const t0 = process.hrtime.bigint();
  const r = spawnSync(s.argv[0], s.argv.slice(1), { stdio: [fd, 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (typeof fd === 'number') closeSync(fd);
  if (!(s.ok ?? [0]).includes(r.status ?? -1)) {
    const err = `${s.argv.slice(0, 3).join(' ').replace(/^\S*\//, '')} exited ${r.status ?? r.signal}: ${String(r.stderr ?? r.error ?? '').trim().split('\n')[0]}`;
    // A failed set-up step makes the rest meaningless: stop.
    if (!s.label) {
      out.errors.setup = err;
      break;
    }
    out.errors[s.label] ??= err;
    continue;
  }
  if (s.label) (out.times[s.label] ??= []).push(ms);
}
process.stdout.write(JSON.stringify(out));
