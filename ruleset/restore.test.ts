import { describe, expect, it } from 'vitest';
import { RestoreLineError, restoreRuleset } from './restore.ts';
import { formatListRules } from './format.ts';
import type { Ruleset } from './types.ts';

const empty: Ruleset = { tables: {} };
const lineError = (text: string, opts = {}): [number, string] => {
  try {
    restoreRuleset(empty, text, opts);
  } catch (e) {
    const r = e as RestoreLineError;
    return [r.line, r.message];
  }
  return [0, ''];
};

describe('restoreRuleset', () => {
  it('applies tables, chains, counters and rules', () => {
    const r = restoreRuleset(empty, '*filter\n:INPUT DROP [1:2]\n:FOO - [0:0]\n-A INPUT -j FOO\n[5:6] -A FOO -s 1.2.3.4 -j ACCEPT\nCOMMIT\n', { counters: true });
    const t = r.ruleset.tables.filter!;
    expect(t.chains[0]!.counters).toEqual({ packets: 1n, bytes: 2n });
    expect(formatListRules(t, undefined, undefined, true)).toContain('-A FOO -s 1.2.3.4/32 -c 5 6 -j ACCEPT');
  });
  it('is all or nothing and names the failing line', () => {
    expect(lineError('*filter\n-A INPUT -j ACCEPT\nCOMMIT\n*filter\n-A INPUT -s 1.2.3.300\nCOMMIT\n')).toEqual([5, "host/network `1.2.3.300' not found"]);
    expect(lineError('*filter\n:INPUT BLAH\nCOMMIT\n')).toEqual([2, 'iptables: Bad policy name.']);
    expect(lineError('*filter\n:A - [0:0]\n-A A -j A\n-A INPUT -j A\nCOMMIT\n')[0]).toBe(4);
  });
  it('reports a missing jump target at COMMIT, ahead of later batch errors', () => {
    expect(lineError('*filter\n-A INPUT -j FOO\n-D INPUT 5\nCOMMIT\n')).toEqual([4, "Chain 'FOO' does not exist"]);
    expect(lineError('*filter\n-A INPUT -j FOO\n:FOO - [0:0]\nCOMMIT\n')).toEqual([4, "Chain 'FOO' does not exist"]);
    // A parse error is immediate.
    expect(lineError('*filter\n-A INPUT -j FOO\n-A INPUT -s 1.2.3.300\nCOMMIT\n')).toEqual([3, "host/network `1.2.3.300' not found"]);
    // The chain cache does not follow -E.
    expect(lineError('*filter\n-N B\n-E B C\n-A INPUT -j C\nCOMMIT\n')).toEqual([5, "Chain 'C' does not exist"]);
    expect(lineError('*filter\n-A INPUT -j FOO\n')[1]).toBe('iptables-restore: COMMIT expected at line 3');
  });
  it("words the reader's own errors like iptables-nft (no trailing newline)", () => {
    expect(lineError('*foo\nCOMMIT\n')).toEqual([1, "iptables-restore: line 1 table name 'foo' invalid"]);
    expect(lineError('*filter\n:INPUT\nCOMMIT\n')).toEqual([2, 'iptables-restore: line 2 policy invalid']);
    expect(lineError('*filter\n[1:2 -A INPUT\nCOMMIT\n')).toEqual([2, 'Bad line 2: need ]']);
    expect(lineError(`*filter\n:${'1'.repeat(29)} - [0:0]\nCOMMIT\n`)).toEqual([2, `chain name \`${'1'.repeat(29)}' too long (must be under 29 chars)`]);
  });
  it('deletes a flushed table that the block leaves empty', () => {
    const base = restoreRuleset(empty, '*filter\n-P INPUT DROP\nCOMMIT\n').ruleset;
    expect(base.tables.filter).toBeDefined();
    expect(restoreRuleset(base, '*filter\nCOMMIT\n').ruleset.tables.filter).toBeUndefined();
    expect(restoreRuleset(empty, '*nat\nCOMMIT\n', { noflush: true }).ruleset.tables.nat).toBeUndefined();
    expect(restoreRuleset(empty, '*raw\nCOMMIT\n', { verbose: true }).ruleset.tables.raw).toBeDefined();
  });
  it('flushes a declared user chain under --noflush', () => {
    const base = restoreRuleset(empty, '*filter\n:A - [0:0]\n-A A -j ACCEPT\n-A INPUT -s 9.9.9.9\nCOMMIT\n').ruleset;
    const r = restoreRuleset(base, '*filter\n:A - [0:0]\n-A A -s 1.1.1.1\nCOMMIT\n', { noflush: true }).ruleset;
    expect(formatListRules(r.tables.filter!, undefined, undefined, false)).toBe(
      '-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N A\n-A INPUT -s 9.9.9.9/32\n-A A -s 1.1.1.1/32\n',
    );
  });
  it('leaves the ruleset unchanged in test mode', () => {
    const r = restoreRuleset(empty, '*filter\n-A INPUT -j ACCEPT\nCOMMIT\n', { test: true });
    expect(r.ruleset).toBe(empty);
  });
});
