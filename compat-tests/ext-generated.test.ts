// Differential test generated from every extension's option table: for each option, valid
// values, boundaries, invalid values, an inversion, a duplicate and each alias spelling, run as
// `iptables -A`, `-S`, `-D`, `-S` against real iptables-nft and against bpftables (dist/bin,
// `npm run build`), each in its own scratch namespace. Every difference (exit code, stdout,
// stderr after normalise()) is one line; the set of lines must equal the committed snapshot
// compat-tests/known-differences.ext.txt, so a new divergence fails and a fixed one shows.
// Refresh the snapshot after review with BPFT_UPDATE_SNAPSHOT=1. EXT_ONLY=<regex> runs only the
// cases whose `table chain rule` matches and compares (or, with BPFT_UPDATE_SNAPSHOT=1, rewrites)
// only their snapshot lines, keeping the others.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCases } from './ext-cases.ts';
import type { GenCase } from './ext-cases.ts';
import { DIST_BIN, ROOT, Scratch, normalise } from './lib/netns.ts';

interface Outcome {
  add: string;
  s1: string;
  del: string;
}

/**
 * Script running every case in one shell inside a namespace with `bin` as iptables. A rule that
 * is refused costs one command; an accepted one is listed, deleted, and the chain flushed only
 * if the delete failed (so one case never leaks into the next one's listing).
 */
function script(bin: string, cases: GenCase[]): string {
  const lines: string[] = ['exec 2>&1'];
  cases.forEach((c, i) => {
    const ipt = `${bin} -w -t ${c.table}`;
    lines.push(`echo "@@CASE ${i}"`);
    lines.push(`echo "@@ADD"; ${ipt} -A ${c.chain} ${c.rule}; rc=$?; echo "@@RC $rc"`);
    lines.push(`echo "@@S1"; if [ $rc = 0 ]; then ${ipt} -S ${c.chain}; fi`);
    lines.push(`echo "@@DEL"; if [ $rc = 0 ]; then ${ipt} -D ${c.chain} ${c.rule}; d=$?; echo "@@RC $d"; [ $d = 0 ] || ${ipt} -F ${c.chain} >/dev/null 2>&1; fi`);
  });
  return lines.join('\n') + '\n';
}

function parseOutcomes(stdout: string): Outcome[] {
  const blocks = stdout.split(/^@@CASE \d+\n/m).slice(1);
  return blocks.map((b) => {
    const part = (a: string, z?: string) => normalise(b.slice(b.indexOf(`@@${a}\n`) + a.length + 3, z ? b.indexOf(`@@${z}\n`) : undefined)).trimEnd();
    return { add: part('ADD', 'S1'), s1: part('S1', 'DEL'), del: part('DEL') };
  });
}

/** Runs both implementations concurrently (each in its own namespace). */
async function runBoth(nsA: Scratch, binA: string, nsB: Scratch, binB: string, cases: GenCase[], lock: string): Promise<[Outcome[], Outcome[]]> {
  const one = (ns: Scratch, bin: string) =>
    new Promise<Outcome[]>((resolve, reject) => {
      const env = { ...process.env, BPFTABLES_LOCK: lock };
      const child = spawn('ip', ['netns', 'exec', ns.name, 'bash', '-s'], { stdio: ['pipe', 'pipe', 'inherit'], env });
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => (out += d));
      child.on('error', reject);
      child.on('close', () => resolve(parseOutcomes(out)));
      child.stdin.end(script(bin, cases));
    });
  return Promise.all([one(nsA, binA), one(nsB, binB)]);
}

export function diffLines(cases: GenCase[], nft: Outcome[], ours: Outcome[]): string[] {
  const lines: string[] = [];
  const one = (s: string) => JSON.stringify(s);
  cases.forEach((c, i) => {
    const a = nft[i];
    const b = ours[i];
    if (!a || !b) {
      lines.push(`${c.table} ${c.chain} ${c.rule} :: missing output`);
      return;
    }
    for (const k of ['add', 's1', 'del'] as const) {
      if (a[k] !== b[k]) lines.push(`${c.table} ${c.chain} ${c.rule} :: ${k}: iptables=${one(a[k])} bpftables=${one(b[k])}`);
    }
  });
  return lines.sort();
}

// Our scratch namespaces are ours alone: a private lock keeps unrelated long-held locks from
// stalling this test (including the teardown Scratch.destroy() runs).
process.env.BPFTABLES_LOCK ??= '/run/bpftables-ext-test.lock';
// This suite compares what the CLI accepts, refuses, lists and saves; enforcement is covered by
// the datapath suites. Keeping the rules in the model avoids a BPF load per command (seconds on
// a loaded machine), which would make ~700 cases take hours.
process.env.BPFTABLES_TEST_NO_DATAPATH ??= '1';
// Rules for the nat / mangle / raw tables are refused by design outside model-only mode (the
// front end's tests cover that refusal); here their syntax is what is compared.
process.env.BPFTABLES_MODEL_ONLY ??= '1';

const SNAPSHOT = join(ROOT, 'compat-tests', 'known-differences.ext.txt');
const BPFT = join(DIST_BIN, 'iptables');

function prerequisites(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!existsSync(BPFT)) return `needs the built binary ${BPFT} (npm run build)`;
  if (spawnSync('iptables-nft', ['--version']).status !== 0) return 'needs iptables-nft (the reference)';
  return undefined;
}

const missing = prerequisites();
const CI = process.env.CI === 'true';

describe('extensions: generated differential cases vs iptables-nft 1.8.9', () => {
  if (missing && CI) {
    it('prerequisites', () => {
      throw new Error(`cannot run under CI=true: ${missing}`);
    });
    return;
  }
  // Shards run concurrently, each with its own pair of namespaces and its own lock file.
  const SHARDS = 4;
  const pairs: Array<[Scratch, Scratch]> = [];
  beforeAll(() => {
    if (missing) return;
    for (let i = 0; i < SHARDS; i++) pairs.push([Scratch.create('ext'), Scratch.create('ext')]);
  });
  afterAll(() => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
  });

  it.skipIf(!!missing && !CI)(`matches the known-differences snapshot${missing ? ` (skipped: ${missing})` : ''}`, async () => {
    const only = process.env.EXT_ONLY ? new RegExp(process.env.EXT_ONLY) : undefined;
    const selected = (line: string) => !only || only.test(line.split(' :: ')[0]!);
    const cases = generateCases().filter((c) => selected(`${c.table} ${c.chain} ${c.rule}`));
    const shards = pairs.map((_, i) => cases.filter((_c, k) => k % SHARDS === i));
    const results = await Promise.all(pairs.map(([a, b], i) => runBoth(a, 'iptables-nft', b, BPFT, shards[i]!, `/run/bpftables-ext-test.${i}.lock`)));
    const nft: Outcome[] = [];
    const ours: Outcome[] = [];
    cases.forEach((_c, k) => {
      nft.push(results[k % SHARDS]![0][Math.floor(k / SHARDS)]!);
      ours.push(results[k % SHARDS]![1][Math.floor(k / SHARDS)]!);
    });
    let known = existsSync(SNAPSHOT) ? readFileSync(SNAPSHOT, 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#')) : [];
    const kept = known.filter((l) => !selected(l));
    const lines = diffLines(cases, nft, ours);
    const all = [...kept, ...lines].sort();
    const total = only ? generateCases().length : cases.length;
    const refusedCases = new Set(all.filter((l) => l.includes('cannot enforce rule')).map((l) => l.split(' :: ')[0]));
    const allCases = new Set(all.map((l) => l.split(' :: ')[0]));
    const body =
      `# Known differences between bpftables and iptables-nft 1.8.9 on the cases generated from the\n# extensions' option tables (compat-tests/ext-generated.test.ts). ${total} cases.\n` +
      `# ${allCases.size} cases differ; ${refusedCases.size} of them only because bpftables refuses, by design, a filter-table\n` +
      `# rule whose match or target the datapath cannot enforce ("cannot enforce rule ..."; the rule is then\n` +
      `# absent from -S and -D fails). The other ${allCases.size - refusedCases.size} are real divergences.\n${all.join('\n')}\n`;
    if (process.env.BPFT_UPDATE_SNAPSHOT === '1') {
      writeFileSync(SNAPSHOT, body);
      known = all;
    }
    const fresh = lines.filter((l) => !known.includes(l));
    const fixed = known.filter((l) => selected(l) && !lines.includes(l));
    expect({ newDifferences: fresh, fixedDifferences: fixed }).toEqual({ newDifferences: [], fixedDifferences: [] });
  }, 3_600_000);
});
