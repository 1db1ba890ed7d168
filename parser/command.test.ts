import { describe, expect, it } from 'vitest';
import { TryHelpError, parseCommandLine } from './command.ts';
import { XtablesError } from './errors.ts';
import type { Command } from './ast.ts';

const parse = (s: string): Command => {
  const r = parseCommandLine(s.split(' ').filter(Boolean));
  if (r.kind !== 'command') throw new Error(`not a command: ${r.kind}`);
  return r.command;
};
const err = (s: string): XtablesError => {
  try {
    parseCommandLine(s.split(' ').filter(Boolean));
  } catch (e) {
    return e as XtablesError;
  }
  throw new Error('no error');
};

describe('parseCommandLine: valid', () => {
  it('appends with base options', () => {
    const c = parse('-A INPUT -s 10.0.0.0/8 ! -d 1.2.3.4 -p udp -i eth+ -j ACCEPT');
    expect(c.kind).toBe('append');
    expect(c.chain).toBe('INPUT');
    expect(c.rules).toHaveLength(1);
    const r = c.rules[0]!;
    expect(r.src).toEqual({ addr: 0x0a000000, mask: 0xff000000, invert: false });
    expect(r.dst).toEqual({ addr: 0x01020304, mask: 0xffffffff, invert: true });
    expect(r.proto).toEqual({ proto: 17, invert: false });
    expect(r.inIface).toEqual({ name: 'eth+', invert: false });
    expect(r.target).toEqual({ kind: 'standard', verdict: 'ACCEPT' });
  });
  it('drops a plain `-i +` / `-o +` (matches every name) but keeps it inverted', () => {
    expect(parse('-A FORWARD -i + -o + -j ACCEPT').rules[0]!.inIface).toBeUndefined();
    expect(parse('-A FORWARD -i + -o + -j ACCEPT').rules[0]!.outIface).toBeUndefined();
    expect(parse('-A FORWARD ! -i +').rules[0]!.inIface).toEqual({ name: '+', invert: true });
  });
  it('expands address lists source-major', () => {
    const c = parse('-A INPUT -s 1.1.1.1,2.2.2.2 -d 3.3.3.3,4.4.4.4');
    expect(c.rules.map((r) => [r.src!.addr & 255, r.dst!.addr & 255])).toEqual([[1, 3], [1, 4], [2, 3], [2, 4]]);
  });
  it('accepts unique long-option prefixes and clustered short options', () => {
    expect(parse('--app INPUT -j DROP').kind).toBe('append');
    const c = parse('-nvxL INPUT');
    expect(c.kind).toBe('list');
    expect(c.list).toEqual({ verbose: true, numeric: true, exact: true, lineNumbers: false });
    expect(parse('-LINPUT').chain).toBe('INPUT');
  });
  it('reads optional chain and rule numbers', () => {
    expect(parse('-I INPUT 3 -j ACCEPT').rulenum).toBe(3);
    expect(parse('-I INPUT -j ACCEPT').rulenum).toBe(1);
    expect(parse('-D INPUT 0x2').kind).toBe('delete-num');
    const z = parse('-L -Z INPUT');
    expect(z.kind).toBe('list');
    expect(z.zero).toBe('chain');
  });
  it('parses counters, goto and fragments', () => {
    const c = parse('-A INPUT -c 5 6 ! -f -g X');
    expect(c.rules[0]!.counters).toEqual({ packets: 5n, bytes: 6n });
    expect(c.rules[0]!.fragment).toEqual({ invert: true });
    expect(c.rules[0]!.target).toEqual({ kind: 'goto', chain: 'X' });
  });
  it('loads the protocol match for an unknown option', () => {
    const c = parse('-A INPUT -p tcp --dport 80');
    expect(c.rules[0]!.matches.map((m) => m.name)).toEqual(['tcp']);
  });
  it('adds the help of the target and matches loaded before -h', () => {
    const help = (s: string): string => {
      const r = parseCommandLine(s.split(' '));
      return r.kind === 'help' ? r.text.slice(r.text.indexOf('print package version.\n') + 23) : '';
    };
    expect(help('-I INPUT 1 -j ACCEPT -h')).toBe('\nstandard match options:\n(If target is DROP, ACCEPT, RETURN or nothing)\n');
    expect(help('-h -j ACCEPT')).toBe('');
    expect(help('-j A -h')).toBe('');
    expect(help('-p tcp -h')).toMatch(/^\ntcp match options:\n/);
    // -p loads its match only when no match was given.
    expect(help('-p udp -m comment -h')).toMatch(/^\ncomment match options:\n[^]*Attach a comment to a rule\n$/);
    expect(help('-m comment -j LOG -h')).toMatch(/^\nLOG target options:\n[^]*\ncomment match options:\n/);
  });
  it('returns help and version', () => {
    expect(parseCommandLine(['-h']).kind).toBe('help');
    const v = parseCommandLine(['-V']);
    expect(v.kind === 'version' && v.text).toBe('iptables v1.8.9 (nf_tables)');
  });
});

describe('parseCommandLine: errors in iptables wording', () => {
  const cases: Array<[string, string, number]> = [
    ['', 'no command specified', 2],
    ['-A', 'option "-A" requires an argument', 2],
    ['-Q', 'unknown option "-Q"', 2],
    ['--d INPUT', 'unknown option "--d"', 2],
    ['-A INPUT --dport 80', 'unknown option "--dport"', 2],
    ['-A INPUT -p foo', 'unknown protocol "foo" specified', 2],
    ['-A INPUT ! -p all', 'rule would never match protocol', 2],
    ['-A INPUT -p tcp -p udp', 'multiple -p flags not allowed', 2],
    ['-A INPUT ! -j ACCEPT', 'cannot have ! before -j', 2],
    ['-A INPUT ! ! -s 1.1.1.1', 'multiple consecutive ! not allowed', 2],
    ['-A INPUT -s 1.1.1.1 !', 'nothing appropriate following !', 2],
    ['-A INPUT -o eth0', "Can't use -o with INPUT\n", 2],
    ['-A INPUT -L', 'Cannot use -L with -A', 2],
    ['-S INPUT -n', "Illegal option `-n' with this command", 2],
    ['-A INPUT -s 1.2.3.300', "host/network `1.2.3.300' not found", 2],
    ['-A INPUT -s 1.1.1.1/33', "invalid mask `33' specified", 2],
    ['-A INPUT ! -s 1.1.1.1,2.2.2.2', '! not allowed with multiple source or destination IP addresses', 2],
    ['-R INPUT', '-R requires a rule number', 2],
    ['-D INPUT 0', "Invalid rule number `0'", 2],
    ['-N -x', "chain name not allowed to start with `-'", 2],
    ['-m foo', "Couldn't load match `foo':No such file or directory\n", 2],
    ['-W 1000000 -L', 'too long usec wait 1000000 > 999999 usec', 2],
    ['-c 1', '-c requires packet and byte counter', 2],
    // '?' names argv[optind-1] (argv[0] is the program), not the option getopt stopped at.
    ['--numeric=x -L', 'unknown option "--numeric=x"', 2],
    ['-L --numer=x', 'unknown option "--numer=x"', 2],
    ['-L -Qn', 'unknown option "-L"', 2],
    ['-Qn -L', 'unknown option "iptables"', 2],
    // load_proto's optind-- rescans with glibc's __nextchar where it was.
    ['-A INPUT -p tcp -Qn', 'unknown option "tcp"', 2],
    ['-A INPUT -p tcp -nQ', 'multiple -n flags not allowed', 2],
    ['-W 5 -L INPUT', '--wait-interval only makes sense with --wait\n', 2],
  ];
  for (const [argv, message, code] of cases) {
    it(`${argv || '(empty)'} → ${JSON.stringify(message)}`, () => {
      const e = err(argv);
      expect(e.message).toBe(message);
      expect(e.exitCode).toBe(code);
    });
  }
  it('keeps warnings printed before the error', () => {
    expect(err('-W 5 -W 6 -L').stderrBefore).toBe('Ignoring deprecated --wait-interval option.\n'.repeat(2));
    expect(err('-A INPUT -i a/b -s 1.2.3.300').stderrBefore).toBe("Warning: weird character in interface `a/b' ('/' and ' ' are not allowed by the kernel).\n");
    expect(parse('-W 5 -w -L').warnings).toEqual(['Ignoring deprecated --wait-interval option.']);
  });
  it('warns about -W at once and wants -w with it', () => {
    const said: string[] = [];
    const warned = (s: string): unknown => {
      said.length = 0;
      try {
        return parseCommandLine(s.split(' '), { onWarning: (w) => said.push(w) });
      } catch (e) {
        return e;
      }
    };
    const e = warned('-W 100000 -S INPUT') as XtablesError;
    expect([said, e.message, e.exitCode]).toEqual([['Ignoring deprecated --wait-interval option.'], '--wait-interval only makes sense with --wait\n', 2]);
    expect((warned('-w 0 -W 10 -L') as XtablesError).message).toBe('--wait-interval only makes sense with --wait\n');
    expect(warned('-w 5 -W 100000 -N F2B')).toMatchObject({ kind: 'command', command: { kind: 'new-chain', wait: 5, warnings: [] } });
    expect(said).toEqual(['Ignoring deprecated --wait-interval option.']);
    expect(parse('-W 5 -w -L').warnings).toEqual(['Ignoring deprecated --wait-interval option.']);
    expect(err('-W 1000000 -w -L').message).toBe('too long usec wait 1000000 > 999999 usec');
  });
  it('keeps a kernel refusal for apply instead of throwing it', () => {
    expect(parse('-I INPUT -p udp -j REJECT --reject-with tcp-reset').kernelRejects).toEqual({ chain: 'INPUT', errno: 'Invalid argument' });
    expect(parse('-C INPUT -p udp -m icmp --icmp-type 8').kernelRejects).toEqual({ chain: 'INPUT', errno: 'Invalid argument' });
    expect(parse('-A INPUT -p tcp -j REJECT --reject-with tcp-reset').kernelRejects).toBeUndefined();
    // Parse errors still win over it.
    expect(err('-A INPUT -p udp -j REJECT --reject-with tcp-reset !').message).toBe('nothing appropriate following !');
    expect(err('-A INPUT -p udp -o eth0 -j REJECT --reject-with tcp-reset').message).toBe("Can't use -o with INPUT\n");
  });
  it('reports stray words through exit_tryhelp', () => {
    const e = err('-A INPUT -j ACCEPT extra');
    expect(e).toBeInstanceOf(TryHelpError);
    expect(e.message).toBe("Bad argument `extra'");
  });
});
