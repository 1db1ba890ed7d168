// Differential runner for the CLI: runs a case (a sequence of iptables / iptables-save /
// iptables-restore invocations) in a scratch namespace against an implementation, then the
// resulting `-S`, iptables-save and `-L -v -n --line-numbers`, and returns normalised text per
// step. One `ip netns exec … bash` per case keeps the suite fast.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST_BIN as DEFAULT_DIST_BIN, Scratch, normalise, type Impl } from './lib/netns.ts';

/** The binaries under test (BPFTABLES_DIST_BIN overrides dist/bin, e.g. for a private build). */
export const DIST_BIN = process.env.BPFTABLES_DIST_BIN ?? DEFAULT_DIST_BIN;

/** The CLI suite checks parsing and output; the datapath has its own suites (see state/bridge.ts). */
const BPF_ENV: Record<string, string> = { BPFTABLES_TEST_NO_DATAPATH: '1' };

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
export async function runCase(ns: Scratch, impl: Impl, c: Case): Promise<CaseResult> {
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
    // A lock file per namespace: the workers run side by side and never contend.
    const env = { ...process.env, ...(impl === 'bpftables' ? { ...BPF_ENV, BPFTABLES_LOCK: join(tmpdir(), `${ns.name}.lock`), ...(c.env ?? {}) } : {}) };
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns.name, 'bash', '-s'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`runner failed (${code}): ${err}`))));
      child.stdin.end(script);
    });
    const read = (f: string): string => {
      try {
        return readFileSync(join(dir, f), 'utf8');
      } catch {
        return '';
      }
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
