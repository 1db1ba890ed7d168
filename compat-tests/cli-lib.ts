// Differential runner for the CLI: runs a case (a sequence of iptables / iptables-save /
// iptables-restore invocations) in a scratch namespace against an implementation, then the
// resulting `-S`, iptables-save and `-L -v -n --line-numbers`, and returns normalised text per
// step. One `ip netns exec … bash` per case keeps the suite fast.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST_BIN, Scratch, normalise, type Impl } from './lib/netns.ts';

export type Tool = 'iptables' | 'iptables-save' | 'iptables-restore';

export interface Step {
  tool: Tool;
  args: string[];
  /** stdin (restore files). */
  input?: string;
}

export interface Case {
  id: string;
  steps: Step[];
  /** Extra env for bpftables (e.g. BPFTABLES_MODEL_ONLY). */
  env?: Record<string, string>;
}

export interface StepResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface CaseResult {
  steps: StepResult[];
  /** -S, iptables-save (all tables), -L -v -n --line-numbers of filter after the case. */
  final: StepResult[];
}

const FINAL: Step[] = [
  { tool: 'iptables', args: ['-S'] },
  { tool: 'iptables-save', args: [] },
  { tool: 'iptables', args: ['-L', '-v', '-n', '--line-numbers'] },
];

function bin(impl: Impl, tool: Tool): string {
  if (impl === 'bpftables') return join(DIST_BIN, tool);
  return tool.replace('iptables', `iptables-${impl}`);
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs one case in `ns` (reset first) and returns raw results. */
export function runCase(ns: Scratch, impl: Impl, c: Case): CaseResult {
  const dir = mkdtempSync(join(tmpdir(), 'bpft-cli-'));
  try {
    const steps = c.steps.concat(FINAL);
    let script = 'set +e\n';
    if (impl === 'bpftables') script += `${q(join(DIST_BIN, 'bpftables'))} --bpftables-teardown\n`;
    else if (impl === 'nft') script += 'nft flush ruleset\n';
    else script += 'for t in filter nat mangle raw security; do iptables-legacy -t $t -F; iptables-legacy -t $t -X; done 2>/dev/null; rmmod iptable_nat 2>/dev/null\n';
    steps.forEach((s, i) => {
      const inFile = join(dir, `in${i}`);
      writeFileSync(inFile, s.input ?? '');
      script += `${[bin(impl, s.tool), ...s.args].map(q).join(' ')} <${q(inFile)} >${q(join(dir, `o${i}`))} 2>${q(join(dir, `e${i}`))}; echo $? >${q(join(dir, `c${i}`))}\n`;
    });
    const env = { ...process.env, ...(impl === 'bpftables' ? c.env ?? {} : {}) };
    const r = spawnSync('ip', ['netns', 'exec', ns.name, 'bash', '-s'], { input: script, encoding: 'utf8', env, maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`runner failed: ${r.stderr}`);
    const read = (f: string): string => {
      const p = spawnSync('cat', [join(dir, f)], { encoding: 'utf8', maxBuffer: 64 << 20 });
      return p.stdout ?? '';
    };
    const results: StepResult[] = steps.map((_, i) => ({
      stdout: normalise(read(`o${i}`)),
      stderr: normalise(read(`e${i}`)),
      code: Number(read(`c${i}`).trim()),
    }));
    return { steps: results.slice(0, c.steps.length), final: results.slice(c.steps.length) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Differences between two case results, as stable labels ("step2:stderr", "final:save"). */
export function diffCase(a: CaseResult, b: CaseResult): string[] {
  const out: string[] = [];
  a.steps.forEach((s, i) => {
    const t = b.steps[i]!;
    if (s.stdout !== t.stdout) out.push(`step${i + 1}:stdout`);
    if (s.stderr !== t.stderr) out.push(`step${i + 1}:stderr`);
    if (s.code !== t.code) out.push(`step${i + 1}:code`);
  });
  const names = ['-S', 'save', '-L'];
  a.final.forEach((s, i) => {
    const t = b.final[i]!;
    if (s.stdout !== t.stdout || s.code !== t.code) out.push(`final:${names[i]}`);
  });
  return out;
}

export function describeStep(s: Step): string {
  return `${s.tool} ${s.args.join(' ')}${s.input !== undefined ? ` <<< ${JSON.stringify(s.input)}` : ''}`;
}
