import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../parser/command.ts';
import type { Command } from '../parser/ast.ts';
import { XtablesError } from '../parser/errors.ts';
import { apply, execute } from './apply.ts';
import { FMT_KILOMEGAGIGA, formatList, formatListRules, formatNum, formatSave, listFormat } from './format.ts';
import { restoreRuleset } from './restore.ts';
import type { Ruleset } from './types.ts';

const cmd = (s: string): Command => {
  const r = parseCommandLine(s.split(' ').filter(Boolean));
  if (r.kind !== 'command') throw new Error('not a command');
  return r.command;
};
const run = (r: Ruleset, ...lines: string[]): Ruleset => lines.reduce((acc, l) => apply(acc, cmd(l)), r);
const empty: Ruleset = { tables: {} };
const rawError = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as XtablesError).message;
  }
  return '';
};
const DATE = 'Sun Nov 22 00:00:00 2026';

describe('apply', () => {
  it('does not mutate its input', () => {
    const a = run(empty, '-A INPUT -s 1.1.1.1');
    const snapshot = JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    run(a, '-A INPUT -s 2.2.2.2', '-D INPUT 1', '-P INPUT DROP');
    expect(JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).toBe(snapshot);
  });
  it('reports a kernel refusal only where a rule is added, after the userspace checks', () => {
    const errorOf = (f: () => unknown): { code: number; message: string } => {
      try {
        f();
      } catch (e) {
        return { code: (e as XtablesError).exitCode, message: (e as XtablesError).message };
      }
      return { code: 0, message: '' };
    };
    // ah without -p ah: the kernel's checkentry refuses it (EINVAL) when the batch is committed.
    expect(errorOf(() => run(empty, '-A INPUT -m ah --ahspi 0'))).toEqual({ code: 4, message: ' RULE_APPEND failed (Invalid argument): rule in chain INPUT' });
    expect(errorOf(() => run(empty, '-I INPUT -m ah --ahspi 0'))).toEqual({ code: 4, message: ' RULE_INSERT failed (Invalid argument): rule in chain INPUT' });
    const bad = { code: 1, message: 'iptables: Bad rule (does a matching rule exist in that chain?).' };
    expect(errorOf(() => run(empty, '-D INPUT -m ah --ahspi 0'))).toEqual(bad);
    expect(errorOf(() => run(empty, '-C INPUT -m ah --ahspi 0'))).toEqual(bad);
    expect(errorOf(() => run(empty, '-A NOPE -m ah --ahspi 0'))).toEqual({ code: 1, message: 'iptables: No chain/target/match by that name.' });
  });
  it('edits rules like iptables', () => {
    const r = run(empty, '-A INPUT -s 1.1.1.1', '-A INPUT -s 2.2.2.2', '-I INPUT -s 3.3.3.3', '-I INPUT 4 -s 4.4.4.4', '-R INPUT 2 -s 5.5.5.5', '-D INPUT -s 2.2.2.2');
    expect(formatListRules(r.tables.filter!, 'INPUT', undefined, false)).toBe(
      '-P INPUT ACCEPT\n-A INPUT -s 3.3.3.3/32\n-A INPUT -s 5.5.5.5/32\n-A INPUT -s 4.4.4.4/32\n',
    );
  });
  it('reports iptables-nft errors', () => {
    expect(rawError(() => run(empty, '-D INPUT -j ACCEPT'))).toBe('iptables: Bad rule (does a matching rule exist in that chain?).');
    expect(rawError(() => run(empty, '-D INPUT 1'))).toBe('iptables: No chain/target/match by that name.');
    expect(rawError(() => run(empty, '-P INPUT DROP', '-D INPUT 1'))).toBe('iptables: Index of deletion too big.');
    expect(rawError(() => run(empty, '-A NOPE'))).toBe('iptables: No chain/target/match by that name.');
    expect(rawError(() => run(empty, '-N A', '-N A'))).toBe('iptables: Chain already exists.');
    expect(rawError(() => run(empty, '-N A', '-A A -j ACCEPT', '-X A'))).toBe(' CHAIN_DEL failed (Device or resource busy): chain A');
    expect(rawError(() => run(empty, '-N A', '-A A -j A', '-A INPUT -j A'))).toBe(' RULE_APPEND failed (Too many links): rule in chain INPUT');
    expect(rawError(() => run(empty, '-A INPUT -j NOPE'))).toBe("Chain 'NOPE' does not exist");
    expect(rawError(() => run(empty, '-P INPUT RETURN'))).toBe("iptables: Bad policy name. Run `dmesg' for more information.");
    expect(rawError(() => run(empty, '-N A', '-R A 1'))).toBe('iptables: Index of replacement too big.');
    expect(rawError(() => run(empty, '-R INPUT 1'))).toBe('iptables: No chain/target/match by that name.');
    // nft_rule_check / nft_rule_delete: a missing chain is ENOENT, "Bad rule".
    expect(rawError(() => run(empty, '-D NOPE -s 1.2.3.4'))).toBe('iptables: Bad rule (does a matching rule exist in that chain?).');
    expect(rawError(() => run(empty, '-C NOPE'))).toBe('iptables: Bad rule (does a matching rule exist in that chain?).');
  });
  it('refuses an inverted zero-length address at commit, after the -v echo', () => {
    for (const [line, op] of [['-A INPUT ! -s 1.2.3.4/0', 'RULE_APPEND'], ['-I INPUT ! -d 0/0', 'RULE_INSERT'], ['-R INPUT 1 ! -d 0.0.0.0/0', 'RULE_REPLACE']]) {
      let e: XtablesError | undefined;
      try {
        run(run(empty, '-A INPUT'), line + ' -v');
      } catch (x) {
        e = x as XtablesError;
      }
      expect(e?.message).toBe(` ${op} failed (Invalid argument): rule in chain INPUT`);
      expect(e?.exitCode).toBe(4);
      expect(e?.partialStdout).toMatch(/^ {2}all opt -- in \* out \* /);
    }
    // An append echoes the rule even when its chain is missing.
    let e: XtablesError | undefined;
    try {
      run(empty, '-A NOPE -v');
    } catch (x) {
      e = x as XtablesError;
    }
    expect(e?.partialStdout).toBe('  all opt -- in * out *  0.0.0.0/0  -> 0.0.0.0/0  \n');
  });
  it('checks loops only on paths from the built-in chains (nf_tables)', () => {
    const r = run(empty, '-N A', '-N B', '-A A -j B', '-A B -j A', '-A A -j A');
    expect(formatListRules(r.tables.filter!, 'A', undefined, false)).toBe('-N A\n-A A -j B\n-A A -j A\n');
    expect(rawError(() => run(r, '-A INPUT -j A'))).toBe(' RULE_APPEND failed (Too many links): rule in chain INPUT');
    // A loop closed later names the chain of the rule that closed it.
    const late = run(empty, '-N A', '-N B', '-A INPUT -j A', '-A A -j B');
    expect(rawError(() => run(late, '-A B -j A'))).toBe(' RULE_APPEND failed (Too many links): rule in chain B');
    expect(rawError(() => run(late, '-I B -j A'))).toBe(' RULE_INSERT failed (Too many links): rule in chain B');
    expect(rawError(() => run(late, '-R A 1 -j A'))).toBe(' RULE_REPLACE failed (Too many links): rule in chain A');
  });
  it('reports a rule the kernel would refuse as the command does (fail2ban / go-iptables rely on -C and -D saying "Bad rule")', () => {
    const base = run(empty, '-N A', '-A A -j ACCEPT');
    const reject = '-p udp -j REJECT --reject-with tcp-reset';
    expect(rawError(() => run(base, `-A A ${reject}`))).toBe(' RULE_APPEND failed (Invalid argument): rule in chain A');
    expect(rawError(() => run(base, `-I A ${reject}`))).toBe(' RULE_INSERT failed (Invalid argument): rule in chain A');
    expect(rawError(() => run(base, `-R A 1 ${reject}`))).toBe(' RULE_REPLACE failed (Invalid argument): rule in chain A');
    expect(rawError(() => run(base, `-C A ${reject}`))).toBe('iptables: Bad rule (does a matching rule exist in that chain?).');
    expect(rawError(() => run(base, `-D A ${reject}`))).toBe('iptables: Bad rule (does a matching rule exist in that chain?).');
    // iptables' own checks come first.
    expect(rawError(() => run(base, `-I NOPE ${reject}`))).toBe('iptables: No chain/target/match by that name.');
    expect(rawError(() => run(base, `-I A 5 ${reject}`))).toBe('iptables: Index of insertion too big.');
    // The same in a restore file: iptables-restore's "line N:" form, nothing applied.
    const res = (): unknown => restoreRuleset(base, `*filter\n-A INPUT -j ACCEPT\n-I INPUT ${reject}\nCOMMIT\n`, {});
    expect(rawError(res)).toBe(' RULE_INSERT failed (Invalid argument): rule in chain INPUT');
  });
  it('says "Bad rule" for -C, -D rule and -Z n in a chain that does not exist', () => {
    const bad = 'iptables: Bad rule (does a matching rule exist in that chain?).';
    const base = run(empty, '-N A');
    expect(rawError(() => run(base, '-C NOPE -j ACCEPT'))).toBe(bad);
    expect(rawError(() => run(base, '-D NOPE -s 1.2.3.4 -j ACCEPT'))).toBe(bad);
    expect(rawError(() => run(base, '-Z NOPE 1'))).toBe(bad);
    expect(rawError(() => run(base, '-Z NOPE'))).toBe('iptables: No chain/target/match by that name.');
    expect(rawError(() => run(base, '-D NOPE 1'))).toBe('iptables: No chain/target/match by that name.');
    expect(rawError(() => run(base, '-Z A 3'))).toBe('');
  });
  it('renames chains and their references', () => {
    const r = run(empty, '-N A', '-A INPUT -j A', '-E A B');
    expect(formatListRules(r.tables.filter!, undefined, undefined, false)).toBe('-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N B\n-A INPUT -j B\n');
  });
  it('keeps untouched tables absent and read-only commands unchanged', () => {
    const r = execute(empty, cmd('-L'));
    expect(r.changed).toBe(false);
    expect(r.ruleset.tables).toEqual({});
    expect(execute(empty, cmd('-F')).changed).toBe(false);
  });
  it('refuses rules in tables the datapath does not enforce unless model-only', () => {
    expect(rawError(() => apply(empty, cmd('-t nat -A POSTROUTING -s 1.1.1.1')))).toContain("table `nat' is not enforced");
    expect(apply(empty, cmd('-t nat -A POSTROUTING -s 1.1.1.1'), { modelOnly: true }).tables.nat?.chains[3]!.rules).toHaveLength(1);
  });
});

describe('formatters', () => {
  it('lists with iptables column widths', () => {
    const r = run(empty, '-A INPUT -s 1.2.3.4 -i eth0 -j ACCEPT');
    const t = r.tables.filter!;
    expect(formatList(t, 'INPUT', undefined, listFormat({ verbose: false, numeric: false, exact: false, lineNumbers: false }))).toBe(
      'Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination         \nACCEPT     all  --  1.2.3.4              anywhere            \n',
    );
    expect(formatList(t, 'INPUT', undefined, listFormat({ verbose: true, numeric: true, exact: false, lineNumbers: true }))).toBe(
      'Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\nnum   pkts bytes target     prot opt in     out     source               destination         \n' +
        '1        0     0 ACCEPT     0    --  eth0   *       1.2.3.4              0.0.0.0/0           \n',
    );
    // "%-4s ": a protocol name longer than four characters keeps one space before opt.
    const p = run(empty, '-A INPUT -p 4', '-A INPUT -p mh');
    expect(formatList(p.tables.filter!, 'INPUT', undefined, listFormat({ verbose: false, numeric: false, exact: false, lineNumbers: false }))).toBe(
      'Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination         \n' +
        '           ipencap --  anywhere             anywhere            \n           mobility-header --  anywhere             anywhere            \n',
    );
  });
  it('rounds counters in 64-bit arithmetic like xtables_print_num', () => {
    expect(formatNum(18446744073709551615n, FMT_KILOMEGAGIGA)).toBe('   0K ');
    expect(formatNum(18446744073709551000n, FMT_KILOMEGAGIGA)).toBe('18446744T ');
    expect(formatNum(123456n, FMT_KILOMEGAGIGA)).toBe(' 123K ');
  });
  it('saves in iptables-save order', () => {
    const r = run(empty, '-t raw -N X', '-P INPUT DROP');
    expect(formatSave(r, { counters: false, date: DATE })).toBe(
      `# Generated by iptables-save v1.8.9 (nf_tables) on ${DATE}\n*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:X - [0:0]\nCOMMIT\n# Completed on ${DATE}\n` +
        `# Generated by iptables-save v1.8.9 (nf_tables) on ${DATE}\n*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n# Completed on ${DATE}\n`,
    );
  });
});

describe('save(parse(x)) round-trips', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const addr = fc.tuple(octet, octet, octet, octet, fc.integer({ min: 0, max: 32 })).map(([a, b, c, d, l]) => `${a}.${b}.${c}.${d}/${l}`);
  const iface = fc.constantFrom('eth0', 'eth+', 'lo', 'veth1', 'br-x');
  const part = fc.oneof(
    // `! -s x/0` is refused (nf_tables cannot compare zero bytes): not a rule that can be saved.
    fc.tuple(fc.boolean(), addr).filter(([i, a]) => !(i && a.endsWith('/0'))).map(([i, a]) => `${i ? '! ' : ''}-s ${a}`),
    fc.tuple(fc.boolean(), addr).filter(([i, a]) => !(i && a.endsWith('/0'))).map(([i, a]) => `${i ? '! ' : ''}-d ${a}`),
    fc.tuple(fc.boolean(), iface).map(([i, n]) => `${i ? '! ' : ''}-i ${n}`),
    fc.tuple(fc.boolean(), fc.constantFrom('tcp', 'udp', 'icmp', '47', 'sctp')).map(([i, p]) => `${i ? '! ' : ''}-p ${p}`),
    fc.boolean().map((i) => `${i ? '! ' : ''}-f`),
  );
  const rule = fc
    .tuple(fc.uniqueArray(part, { maxLength: 5, selector: (s) => s.replace('! ', '').slice(0, 2) }), fc.constantFrom('', '-j ACCEPT', '-j DROP', '-j RETURN', '-j U', '-g U'))
    .map(([ps, t]) => `${ps.join(' ')} ${t}`.trim());
  it('for random base-option rules', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 8 }), (rules) => {
        let r = run(empty, '-N U');
        for (const x of rules) r = apply(r, cmd(`-A FORWARD ${x}`));
        const text = formatSave(r, { counters: true, date: DATE });
        const back = restoreRuleset(empty, text, { counters: true }).ruleset;
        expect(formatSave(back, { counters: true, date: DATE })).toBe(text);
      }),
      { numRuns: 200 },
    );
  });
});

// iptables-nft 1.8.9 creates base chains lazily (observed with iptables-nft in a scratch
// namespace): which commands create them, and with or without policy counters.
describe('base chains (iptables-nft)', () => {
  const base = (r: Ruleset, chain: string): string | undefined => r.tables.filter?.chains.find((c) => c.name === chain)?.base;
  const out = (r: Ruleset, line: string): string => execute(r, cmd(line)).stdout;
  it('-A creates a plain base chain; -P, -Z and restore chain lines make it counted', () => {
    const a = run(empty, '-A INPUT -s 1.1.1.1 -j DROP');
    expect([base(a, 'INPUT'), base(a, 'FORWARD')]).toEqual(['plain', undefined]);
    expect(base(run(a, '-P INPUT ACCEPT'), 'INPUT')).toBe('counted');
    expect(base(run(a, '-Z INPUT'), 'INPUT')).toBe('counted');
    expect(base(run(a, '-Z'), 'FORWARD')).toBe(undefined);
    expect(base(run(a, '-L -Z FORWARD'), 'FORWARD')).toBe('counted');
    const restored = restoreRuleset(empty, '*filter\n:INPUT ACCEPT [0:0]\n-A FORWARD -j DROP\nCOMMIT\n', { program: 'iptables-restore' }).ruleset;
    expect([base(restored, 'INPUT'), base(restored, 'FORWARD'), base(restored, 'OUTPUT')]).toEqual(['counted', 'plain', undefined]);
  });
  it('-Z, -D n and -X treat a missing base chain as iptables-nft does', () => {
    const a = run(empty, '-A INPUT -j ACCEPT');
    expect(rawError(() => run(a, '-Z FORWARD'))).toBe('iptables: No chain/target/match by that name.');
    expect(rawError(() => run(a, '-Z FORWARD 1'))).toBe('iptables: Bad rule (does a matching rule exist in that chain?).');
    expect(rawError(() => run(a, '-D FORWARD 1'))).toBe('iptables: No chain/target/match by that name.');
    expect(rawError(() => run(a, '-X FORWARD'))).toBe('iptables: No chain/target/match by that name.');
    expect(base(run(empty, '-F FORWARD'), 'FORWARD')).toBe('plain');
    expect(run(a, '-F FORWARD', '-X FORWARD')).toEqual(a);
    expect(rawError(() => run(a, '-X INPUT'))).toContain('CHAIN_DEL failed (Device or resource busy): chain INPUT');
    expect(base(run(a, '-F INPUT', '-X INPUT'), 'INPUT')).toBe(undefined);
    expect(rawError(() => run(a, '-P OUTPUT DROP', '-X OUTPUT'))).toBe('iptables: Directory not empty.');
    // -X without a chain also drops empty ACCEPT base chains; a DROP one stays.
    const x = run(empty, '-F -v', '-P INPUT DROP', '-X');
    expect(['INPUT', 'FORWARD', 'OUTPUT'].map((c) => base(x, c))).toEqual(['counted', undefined, undefined]);
    expect(rawError(() => run(a, '-F INPUT', '-X INPUT', '-Z INPUT -v'))).toBe('iptables: No chain/target/match by that name.');
  });
  it('-Z -v names the chains that exist', () => {
    expect(out(empty, '-Z -v')).toBe('');
    const a = run(empty, '-A INPUT -s 1.1.1.1 -j DROP', '-N FOO');
    expect(out(a, '-Z -v')).toBe("Zeroing chain `INPUT'\nZeroing chain `FOO'\n");
    expect(out(a, '-Z FOO -v')).toBe("Zeroing chain `FOO'\n");
    expect(out(a, '-Z INPUT 1 -v')).toBe('');
  });
});
