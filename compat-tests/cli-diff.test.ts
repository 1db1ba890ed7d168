// Differential suite: every case runs against real iptables-nft 1.8.9 and bpftables (the built
// dist/bin binaries) in scratch namespaces; stdout, stderr (program names normalised), exit
// codes and the resulting -S / iptables-save / -L -v -n --line-numbers are compared.
// Remaining differences are kept in known-differences.cli.txt: a new divergence fails the test,
// and so does a fixed one (update the snapshot with CLI_DIFF_UPDATE=1 after reviewing).
// CLI_DIFF_REPORT=<file> writes the full text of every difference for review.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCases } from './cli-cases.ts';
import { describeStep, diffCase, runCase, type Case, type CaseResult } from './cli-lib.ts';
import { DIST_BIN, ROOT, Scratch } from './lib/netns.ts';

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
  let nft: Scratch;
  let bpf: Scratch;
  beforeAll(() => {
    if (!existsSync(join(DIST_BIN, 'iptables'))) throw new Error('dist/bin/iptables missing: run `npm run build` first');
    nft = Scratch.create('clin');
    bpf = Scratch.create('clib');
  });
  afterAll(() => {
    nft?.destroy();
    bpf?.destroy();
  });

  it('matches real iptables except for the known differences', () => {
    const cases = allCases();
    const lines: string[] = [];
    let details = '';
    for (const c of cases) {
      const a = runCase(nft, 'nft', c);
      const b = runCase(bpf, 'bpftables', c);
      const labels = diffCase(a, b);
      if (labels.length) {
        lines.push(`${c.id}\t${labels.join(' ')}`);
        details += report(c, a, b, labels);
      }
    }
    const actual = lines.join('\n') + (lines.length ? '\n' : '');
    if (process.env.CLI_DIFF_REPORT) writeFileSync(process.env.CLI_DIFF_REPORT, details);
    if (process.env.CLI_DIFF_UPDATE === '1') writeFileSync(SNAPSHOT, actual);
    const expected = existsSync(SNAPSHOT) ? readFileSync(SNAPSHOT, 'utf8') : '';
    const pass = cases.length - lines.length;
    console.log(`CLI differential: ${pass}/${cases.length} cases identical, ${lines.length} known-different`);
    expect(actual).toBe(expected);
  }, 1_800_000);
});
