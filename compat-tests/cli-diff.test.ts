// Differential suite: every case runs against real iptables-nft 1.8.9 and bpftables (the built
// dist/bin binaries) in scratch namespaces; stdout, stderr (program names normalised), exit
// codes and the resulting -S / iptables-save / -L -v -n --line-numbers are compared.
// Remaining differences are kept in known-differences.cli.txt: a new divergence fails the test,
// and so does a fixed one (update the snapshot with CLI_DIFF_UPDATE=1 after reviewing).
// CLI_DIFF_REPORT=<file> writes the full text of every difference for review.
// CLI_DIFF_ONLY=<regex> runs only the cases whose id matches; the snapshot is then compared (and,
// with CLI_DIFF_UPDATE=1, rewritten) for those cases only, the other lines kept as they are.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCases } from './cli-cases.ts';
import { DIST_BIN, describeStep, diffCase, runCase, type Case, type CaseResult } from './cli-lib.ts';
import { ROOT, Scratch } from './lib/netns.ts';

const SNAPSHOT = join(ROOT, 'compat-tests', 'known-differences.cli.txt');

function report(c: Case, a: CaseResult, b: CaseResult, labels: string[]): string {
  let s = `=== ${c.id}: ${labels.join(' ')}\n`;
  const show = (label: string, x: string, y: string): void => {
    if (x !== y) s += `--- ${label}\n[nft]\n${x}[bpftables]\n${y}`;
  };
  c.steps.forEach((st, i) => {
    const x = a.steps[i]!;
    const y = b.steps[i]!;
    if (x.stdout !== y.stdout || x.stderr !== y.stderr || x.code !== y.code) {
      s += `# step${i + 1}: ${describeStep(st)} (codes ${x.code} / ${y.code})\n`;
      show('stdout', x.stdout, y.stdout);
      show('stderr', x.stderr, y.stderr);
    }
  });
  ['-S', 'save', '-L'].forEach((n, i) => show(`final ${n}`, a.final[i]!.stdout, b.final[i]!.stdout));
  return s;
}

describe('CLI differential against iptables-nft', () => {
  // Cases run on WORKERS namespace pairs at once; each case resets its namespaces first.
  const WORKERS = 6;
  const pairs: Array<[Scratch, Scratch]> = [];
  beforeAll(() => {
    if (!existsSync(join(DIST_BIN, 'iptables'))) throw new Error('dist/bin/iptables missing: run `npm run build` first');
    for (let i = 0; i < WORKERS; i++) pairs.push([Scratch.create('clin'), Scratch.create('clib')]);
  });
  afterAll(() => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
  });

  it('matches real iptables except for the known differences', async () => {
    // CLI_DIFF_ONLY=<regex>: only the cases whose id matches; only their snapshot lines are
    // compared (and replaced, with CLI_DIFF_UPDATE=1).
    const only = process.env.CLI_DIFF_ONLY ? new RegExp(process.env.CLI_DIFF_ONLY) : undefined;
    const cases = allCases().filter((c) => !only || only.test(c.id));
    const allIds = allCases().map((c) => c.id);
    const ids = new Set(cases.map((c) => c.id));
    const inSubset = (l: string) => !only || ids.has(l.split('\t')[0]!);
    const outcome: Array<{ label?: string; details?: string }> = [];
    let next = 0;
    await Promise.all(
      pairs.map(async ([nft, bpf]) => {
        for (;;) {
          const i = next++;
          if (i >= cases.length) return;
          const c = cases[i]!;
          const [a, b] = await Promise.all([runCase(nft, 'nft', c), runCase(bpf, 'bpftables', c)]);
          const labels = diffCase(a, b);
          outcome[i] = labels.length ? { label: `${c.id}\t${labels.join(' ')}`, details: report(c, a, b, labels) } : {};
        }
      }),
    );
    const lines = outcome.filter((o) => o.label).map((o) => o.label!);
    const details = outcome.map((o) => o.details ?? '').join('');
    const text = (ls: string[]): string => ls.join('\n') + (ls.length ? '\n' : '');
    const actual = text(lines);
    if (process.env.CLI_DIFF_REPORT) writeFileSync(process.env.CLI_DIFF_REPORT, details);
    const snapshotLines = existsSync(SNAPSHOT) ? readFileSync(SNAPSHOT, 'utf8').split('\n').filter((l) => l !== '') : [];
    if (process.env.CLI_DIFF_UPDATE === '1') {
      if (!only) writeFileSync(SNAPSHOT, actual);
      else {
        // Keep the other cases' lines where they were; the subset's lines take their places.
        const merged = [...snapshotLines.filter((l) => !inSubset(l)), ...lines].sort((a, b) => allIds.indexOf(a.split('\t')[0]!) - allIds.indexOf(b.split('\t')[0]!));
        writeFileSync(SNAPSHOT, merged.join('\n') + (merged.length ? '\n' : ''));
      }
    }
    const subsetLines = (existsSync(SNAPSHOT) ? readFileSync(SNAPSHOT, 'utf8').split('\n').filter((l) => l !== '') : []).filter(inSubset);
    const expected = subsetLines.join('\n') + (subsetLines.length ? '\n' : '');
    const pass = cases.length - lines.length;
    console.log(`CLI differential: ${pass}/${cases.length} cases identical, ${lines.length} known-different`);
    expect(actual).toBe(expected);
  }, 1_800_000);
});
