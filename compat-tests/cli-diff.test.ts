// Differential suite: every case runs against real iptables-nft 1.8.9 and bpftables (the built
// dist/bin binaries) in scratch namespaces; stdout, stderr (program names normalised), exit
// codes and the resulting -S / iptables-save / -L -v -n --line-numbers are compared.
// Remaining differences are kept in known-differences.cli.txt: a new divergence fails the test,
// and so does a fixed one (update the snapshot with CLI_DIFF_UPDATE=1 after reviewing).
// CLI_DIFF_REPORT=<file> writes the full text of every difference for review.
// CLI_DIFF_ONLY=<regex> runs only the cases whose id matches and compares (or, with
// CLI_DIFF_UPDATE=1, rewrites) only their snapshot lines, for checking a change on a busy machine.
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
    const only = process.env.CLI_DIFF_ONLY ? new RegExp(process.env.CLI_DIFF_ONLY) : undefined;
    const cases = allCases().filter((c) => !only || only.test(c.id));
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
    const actual = lines.join('\n') + (lines.length ? '\n' : '');
    if (process.env.CLI_DIFF_REPORT) writeFileSync(process.env.CLI_DIFF_REPORT, details);
    const stored = existsSync(SNAPSHOT) ? readFileSync(SNAPSHOT, 'utf8') : '';
    // The snapshot lines of the cases that ran (a line is "<id>\t<labels>").
    const ran = new Set(cases.map((c) => c.id));
    const storedLines = stored.split('\n').filter(Boolean);
    const expected = only ? storedLines.filter((l) => ran.has(l.split('\t')[0]!)).map((l) => l + '\n').join('') : stored;
    if (process.env.CLI_DIFF_UPDATE === '1') {
      if (!only) writeFileSync(SNAPSHOT, actual);
      else {
        // Keep the other cases' lines where they were; this run's lines replace its cases' ones.
        const mine = new Map(lines.map((l) => [l.split('\t')[0]!, l]));
        const kept = storedLines.flatMap((l) => {
          const id = l.split('\t')[0]!;
          if (!ran.has(id)) return [l];
          const m = mine.get(id);
          mine.delete(id);
          return m ? [m] : [];
        });
        const all = [...kept, ...mine.values()];
        writeFileSync(SNAPSHOT, all.join('\n') + (all.length ? '\n' : ''));
      }
    }
    const pass = cases.length - lines.length;
    console.log(`CLI differential: ${pass}/${cases.length} cases identical, ${lines.length} known-different`);
    expect(actual).toBe(expected);
  }, 1_800_000);
});
