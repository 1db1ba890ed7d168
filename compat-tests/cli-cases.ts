// Cases for the CLI differential suite: hand-written ones for the grammar, chain management,
// listing formats and restore files, plus cases generated from the base options' value tables
// and from every extension's option table (valid values, boundaries, invalid values,
// inversions, duplicates).
import { MATCHES, TARGETS } from '../extensions/index.ts';
import type { Case, Step } from './cli-lib.ts';

const ipt = (...args: string[]): Step => ({ tool: 'iptables', args });
const save = (...args: string[]): Step => ({ tool: 'iptables-save', args });
const restore = (input: string, ...args: string[]): Step => ({ tool: 'iptables-restore', args, input });
const w = (s: string): string[] => s.split(' ').filter((x) => x.length > 0);
const cmd = (s: string): Step => ipt(...w(s));

export function handCases(): Case[] {
  const cases: Case[] = [];
  const add = (id: string, ...steps: Step[]): void => {
    cases.push({ id, steps });
  };

  // Commands and grammar errors.
  const single = [
    '', '-L', '-S', '-L -n', '-L -v', '-L -x -v', '-L -v -n --line-numbers', '-L --line-numbers', '-nvL', '-nvLINPUT',
    '-L INPUT', '-L NOPE', '-S NOPE', '-S INPUT', '-S INPUT 1', '-L INPUT 1', '-L INPUT x', '-S -v', '-S -v INPUT',
    '-F', '-F NOPE', '-Z', '-Z NOPE', '-X', '-X NOPE', '-X INPUT', '-N', '-A', '-A INPUT -j ACCEPT extra',
    '-Q', '--foo', '--a INPUT -j ACCEPT', '--app INPUT', '--append INPUT -j DROP', '--d INPUT', '--del INPUT 1', '--s 1.1.1.1',
    '-A INPUT -L', '-L -A INPUT', '-L -Z', '-Z -L', '-L -F', '-D INPUT', '-D INPUT 0', '-D INPUT 1', '-D INPUT -j ACCEPT',
    '-R INPUT', '-R INPUT 1 -j ACCEPT', '-R INPUT 0 -j ACCEPT', '-I INPUT 2 -j ACCEPT', '-I INPUT 1 -j ACCEPT', '-I INPUT -j ACCEPT',
    '-P INPUT', '-P INPUT DROP', '-P INPUT FOO', '-P INPUT RETURN', '-P NOPE DROP', '-E A', '-E NOPE B', '-E INPUT X',
    '-V', '--version', '! -V', '-h', '--help', '-t foo -L', '-t nat -L', '-t mangle -L -n', '-t raw -S', '-t security -L -v',
    '-t nat -A PREROUTING -j DROP', '-t nat -P PREROUTING DROP', '-t nat -A POSTROUTING -i eth0', '-t filter -L INPUT',
    '-w -L INPUT', '-w 5 -L INPUT', '-w x -L INPUT', '-W 1000000 -L INPUT', '-W x -L INPUT', '-W -L INPUT', '-W 5 -L INPUT',
    '-4 -L INPUT', '-6 -L INPUT', '-b -L', '-M x -L INPUT', '--modprobe=x -S INPUT', '-S INPUT -n', '-S INPUT -x',
    '-S INPUT --line-numbers', '-L --line-numbers --line-numbers', '-n -n -L', '-v -v -L INPUT', '-D INPUT 1 -s 1.2.3.4',
    '-F -s 1.2.3.4', '-L -p tcp', '-P INPUT ACCEPT -c 4 5', '-C INPUT -j ACCEPT', '-C INPUT', '-A INPUT -t nat -j ACCEPT',
    '-A INPUT -j', '-A INPUT -s', '--list=INPUT', '--list-rules=INPUT', '--numeric=x -L', '-LINPUT', '-S INPUT 0x1',
    '-A INPUT ! -j ACCEPT', '-A INPUT ! ! -s 1.1.1.1', '-A INPUT -s 1.1.1.1 !', '-A INPUT -m foo', '-A INPUT -j ACCEPT -j DROP',
    '-A INPUT -j ACCEPT -g FOO', '-A INPUT -g INPUT', '-A INPUT -j NOPE', '-A INPUT -j ""', '-A NOPE -j ACCEPT', '-A NOPE -j NOPE2',
    '-A INPUT -j 12345678901234567890123456789', '-A INPUT -j 1234567890123456789012345678',
    '-A INPUT -c 1 2 -j ACCEPT', '-A INPUT -c 1,2 -j ACCEPT', '-A INPUT -c x 2', '-A INPUT -c 1 x', '-A INPUT -c 1',
    '-A INPUT -c 18446744073709551615 1', '-A INPUT -v -s 1.2.3.4 -j ACCEPT -i eth0', '-A INPUT -v', '-F INPUT -v', '-F -v',
    '-Z -v', '-Z INPUT -v', '-X -v', '--line-numbers -L', '-x -L', '-L -x', '-A INPUT --dport 80', '-A INPUT -p tcp --dport 80 -j ACCEPT',
    '-A INPUT -p tcp --d 80', '-A INPUT -p tcp --dport 80 --dport 81', '-A INPUT -p udp --sport 53 -j ACCEPT', '-A INPUT -p icmp --icmp-type 8',
    '-A INPUT -m tcp --dport 80', '-A INPUT -p 6 --dport 22', '-A INPUT -p tcp -m tcp --dport 22 -m tcp --sport 33',
    '-A INPUT -p tcp -m multiport --dport 80,443', '-A INPUT -p tcp -m multiport --dports 80,443 --dport 81',
    '-A INPUT -p udp -m comment --comment hello --dport 53', '-A INPUT -m comment --comment "a b"', '-I INPUT 1 -j ACCEPT -h',
  ];
  single.forEach((s, i) => add(`single-${String(i).padStart(3, '0')} ${s}`, cmd(s)));

  // Base rule parameters: values, boundaries, invalid, inversion, duplicates.
  const params: Record<string, string[]> = {
    '-p': ['tcp', 'TCP', 'udp', 'icmp', 'all', '0', '6', '17', '4', '250', '255', '256', '-1', '0x11', 'ipv6-icmp', 'mh', 'sctp', 'esp', 'ah', 'igmp', 'foo', 'icmpv6', 'udplite', 'gre'],
    '-s': ['1.2.3.4', '1.2.3.4/32', '1.2.3.4/24', '1.2.3.4/0', '0/0', '10', '10.1/16', '1.2.3.4/255.255.0.0', '1.2.3.4/255.0.255.0', '1.2.3.300', '1.2.3.4/33', '1.2.3.4/x', '', '1.1.1.1,2.2.2.2', '1.1.1.1,2.2.2.2,3.3.3.3', '127.0.0.1', '127.0.0.0/8', 'localhost', '0x7f.1', '010.0.0.1', ' 1.2.3.4'],
    '-d': ['5.6.7.8', '5.6.7.0/24', '0.0.0.0/0', '5.6.7.8,9.9.9.9', '169.254.0.0/16', 'default', 'x.y'],
    '-i': ['eth0', 'eth+', '+', 'lo', '', '123456789012345', '1234567890123456', 'a b', 'a/b', 'eth0.100'],
    '-o': ['eth1', 'veth+', '+'],
  };
  for (const [opt, values] of Object.entries(params)) {
    values.forEach((v, i) => {
      const chain = opt === '-o' ? 'FORWARD' : 'INPUT';
      add(`param${opt} ${i} ${JSON.stringify(v)}`, ipt('-A', chain, opt, v, '-j', 'ACCEPT'), ipt('-L', chain), ipt('-L', chain, '-v'));
      if (i < 4) add(`param${opt} ${i} inverted ${JSON.stringify(v)}`, ipt('-A', chain, '!', opt, v), ipt('-L', chain), ipt('-L', chain, '-n', '-v'));
      if (i < 2) add(`param${opt} ${i} duplicate ${JSON.stringify(v)}`, ipt('-A', chain, opt, v, opt, v));
    });
  }
  add('frag', cmd('-A INPUT -f -j ACCEPT'), cmd('-A INPUT ! -f -j DROP'), cmd('-A INPUT -f -f'), cmd('-L -v'), cmd('-D INPUT ! -f -j DROP'));
  add('o-with-input', cmd('-A INPUT -o eth0'), cmd('-A OUTPUT -i eth0'), cmd('-I INPUT -o x'), cmd('-C INPUT -o x'), cmd('-D INPUT -o x'));
  add('multi-addr', cmd('-A INPUT -s 1.1.1.1,2.2.2.2 -d 3.3.3.3,4.4.4.4 -j ACCEPT'), cmd('-I INPUT 2 -s 5.5.5.5,6.6.6.6'), cmd('-L -n'),
    cmd('-C INPUT -s 1.1.1.1,2.2.2.2 -d 3.3.3.3 -j ACCEPT'), cmd('-D INPUT -s 1.1.1.1,2.2.2.2 -d 4.4.4.4 -j ACCEPT'), cmd('-R INPUT 1 -s 7.7.7.7,8.8.8.8'),
    cmd('-A INPUT ! -s 1.1.1.1,2.2.2.2'), cmd('-A INPUT -s 1.1.1.1 ! -d 2.2.2.2,3.3.3.3'));
  add('long-opts', cmd('--append INPUT --source 1.2.3.4 --destination 5.6.7.8 --protocol tcp --in-interface eth0 --jump ACCEPT'),
    cmd('--insert INPUT 1 --src 1.1.1.1 --dst 2.2.2.2 --proto udp --fragment --goto X'), cmd('--new-chain X'),
    cmd('--insert INPUT 1 --src 1.1.1.1 --dst 2.2.2.2 --proto udp --fragment --goto X'), cmd('--list --numeric --verbose --exact --line-numbers'),
    cmd('--list-rules'), cmd('--zero'), cmd('--flush X'), cmd('--delete-chain X'), cmd('--rename-chain X Y'), cmd('--policy FORWARD DROP'),
    cmd('--check INPUT -s 1.2.3.4'), cmd('--delete INPUT 2'), cmd('--replace INPUT 1 -j DROP'), cmd('--set-counters 5 6 -A INPUT'), cmd('-S -v'));

  // Chain management.
  add('chains-basic', cmd('-N A'), cmd('-N A'), cmd('-N B'), cmd('-A A -j B'), cmd('-A INPUT -j A'), cmd('-X B'), cmd('-X A'), cmd('-F A'),
    cmd('-X A'), cmd('-D INPUT -j A'), cmd('-X A'), cmd('-L'), cmd('-X'), cmd('-L'));
  add('chains-names', cmd('-N a b'), cmd('-N -x'), cmd('-N !foo'), cmd('-N a!b'), cmd('-N 1234567890123456789012345678'), cmd('-N 12345678901234567890123456789'),
    cmd('-N ACCEPT'), cmd('-N DROP'), cmd('-N RETURN'), cmd('-N LOG'), cmd('-N REJECT'), cmd('-N QUEUE'), cmd('-N foo-bar'), cmd('-N INPUT'), cmd('-N Z'), cmd('-N _'), cmd('-N z'), cmd('-S'), cmd('-L -n'));
  add('chains-rename', cmd('-N A'), cmd('-N B'), cmd('-A INPUT -j A'), cmd('-A B -g A'), cmd('-E A B'), cmd('-E A C'), cmd('-S'), cmd('-E INPUT X'), cmd('-E C D E'), cmd('-L'));
  add('chains-loops', cmd('-N A'), cmd('-N B'), cmd('-A A -j B'), cmd('-A B -j A'), cmd('-A INPUT -j A'), cmd('-A A -j A'), cmd('-A A -j INPUT'), cmd('-A B -g OUTPUT'), cmd('-S'));
  add('chains-loop-late', cmd('-N A'), cmd('-N B'), cmd('-A INPUT -j A'), cmd('-A A -j B'), cmd('-A B -j A'), cmd('-I B -j A'), cmd('-R A 1 -j A'), cmd('-S'));
  add('chains-depth', ...Array.from({ length: 20 }, (_, i) => cmd(`-N C${i}`)), ...Array.from({ length: 19 }, (_, i) => cmd(`-A C${i} -j C${i + 1}`)), cmd('-A INPUT -j C0'), cmd('-A FORWARD -j C5'), cmd('-S FORWARD'));
  add('policy', cmd('-P INPUT DROP'), cmd('-P FORWARD ACCEPT'), cmd('-P OUTPUT REJECT'), cmd('-N U'), cmd('-P U DROP'), cmd('-S'), cmd('-L'));
  add('rules-edit', cmd('-A INPUT -s 1.1.1.1'), cmd('-A INPUT -s 2.2.2.2 -j DROP'), cmd('-I INPUT -s 3.3.3.3'), cmd('-I INPUT 4 -s 4.4.4.4'),
    cmd('-I INPUT 6 -s 5.5.5.5'), cmd('-R INPUT 2 -d 9.9.9.9'), cmd('-R INPUT 5 -j ACCEPT'), cmd('-R INPUT 6 -j ACCEPT'), cmd('-D INPUT 9'), cmd('-D INPUT 4'),
    cmd('-D INPUT -s 2.2.2.2 -j DROP'), cmd('-D INPUT -s 2.2.2.2 -j DROP'), cmd('-C INPUT -s 3.3.3.3'), cmd('-C INPUT -s 3.3.3.3 -j ACCEPT'),
    cmd('-L INPUT 2'), cmd('-L INPUT 2 -v'), cmd('-S INPUT 2'), cmd('-S INPUT 9'), cmd('-L INPUT 9'), cmd('-Z INPUT 9'), cmd('-Z INPUT 1'));
  add('counters', cmd('-A INPUT -c 10 20 -j ACCEPT'), cmd('-A INPUT -c 123456 7890123'), cmd('-A INPUT -c 99999 100000'), cmd('-A INPUT -c 999999999 99999999999'),
    cmd('-A INPUT -c 99999999999999 999999999999999'), cmd('-L -v'), cmd('-L -v -x'), cmd('-S -v'), cmd('-L -Z -v'), cmd('-S -v'), cmd('-A INPUT -c 5 5'),
    cmd('-Z INPUT 3 -L INPUT -v'), cmd('-S -v'), cmd('-R INPUT 1 -c 7 8'), cmd('-R INPUT 2'), cmd('-S -v'));
  add('empty-tables', cmd('-Z'), cmd('-X'), cmd('-F'), save(), cmd('-t raw -N FOO'), cmd('-t mangle -P INPUT DROP'), cmd('-t nat -N Z'), cmd('-t nat -N A'), save(), save('-t', 'nat'), save('-t', 'filter'));
  add('save-opts', cmd('-A INPUT -s 1.2.3.4 -c 5 6'), save('-c'), save('--counters'), save('-t', 'foo'), save('-x'), save('extra'), save('-V'), save('-t'));
  add('verbose-msgs', cmd('-N X'), cmd('-A X -j ACCEPT'), cmd('-F -v'), cmd('-X -v'), cmd('-Z -v'), cmd('-N Y -v'), cmd('-X Y -v'), cmd('-C INPUT -v -j ACCEPT'));
  add('hosts', cmd('-A INPUT -s 127.0.0.1 -d 127.0.0.0/8'), cmd('-A INPUT -s 169.254.0.0/16 -d 0.0.0.0/1'), cmd('-L'), cmd('-L -n'));
  add('weird-iface', cmd('-A INPUT -i a/b'), cmd('-A INPUT -i x y'), cmd('-L -v'));
  add('goto-list', cmd('-N G'), cmd('-A INPUT -p tcp -g G'), cmd('-L'), cmd('-L -v -n'), cmd('-S'));
  return cases;
}

export function restoreCases(): Case[] {
  const cases: Case[] = [];
  const add = (id: string, ...steps: Step[]): void => {
    cases.push({ id, steps });
  };
  const files: Record<string, string> = {
    basic: '*filter\n:INPUT DROP [1:2]\n:FOO - [3:4]\n-A INPUT -j FOO\n[5:6] -A FOO -s 1.2.3.4 -j ACCEPT\n-A FOO -m comment --comment "hello world" -j ACCEPT\nCOMMIT\n',
    missingChain: '*filter\n:INPUT DROP [1:2]\n-A INPUT -j FOO\nCOMMIT\n',
    laterError: '*filter\n-A INPUT -s 1.1.1.1 -j ACCEPT\nCOMMIT\n*nat\n-A INPUT -p foo\nCOMMIT\n',
    noCommit: '*filter\n-A INPUT -s 1.1.1.1 -j ACCEPT\n',
    noTable: '-A INPUT -s 1.1.1.1 -j ACCEPT\n',
    badTable: '*foo\nCOMMIT\n',
    badPolicy: '# comment\n*filter\n:INPUT BLAH [0:0]\nCOMMIT\n',
    dupChain: '*filter\n:FOO - [0:0]\n:FOO - [0:0]\n-A FOO -j ACCEPT\n-A NOPE -j ACCEPT\nCOMMIT\n',
    delMissing: '*filter\n-X NOPE\nCOMMIT\n',
    delRule: '*filter\n-D INPUT -j ACCEPT\nCOMMIT\n',
    tableOpt: '*filter\n-A INPUT -t nat -j ACCEPT\nCOMMIT\n',
    userPolicy: '*filter\n:INPUT ACCEPT\n:BAR ACCEPT [0:0]\nCOMMIT\n',
    loop: '*filter\n:A - [0:0]\n-A A -j A\n-A INPUT -j A\nCOMMIT\n',
    newExisting: '*filter\n:A - [0:0]\n-N A\nCOMMIT\n',
    quoteOpen: '*filter\n-A INPUT -m comment --comment "abc\nCOMMIT\n',
    quotes: '*filter\n-A INPUT -m comment --comment "a\\"b\\\\c" -m comment --comment x"y z"w\nCOMMIT\n',
    quotes2: '*filter\n-A INPUT -m comment --comment "a\\"b\\\\c" -m comment --comment "" -m comment --comment "x y"\nCOMMIT\n',
    counterBad: '*filter\n[1:2 -A INPUT -j ACCEPT\nCOMMIT\n',
    counterBad2: '*filter\n[1 -A INPUT -j ACCEPT]\nCOMMIT\n',
    policyMissing: '*filter\n:INPUT\nCOMMIT\n',
    twice: '*filter\n-A INPUT -j ACCEPT\nCOMMIT\n*filter\n-A INPUT -j DROP\nCOMMIT\n',
    starInTable: '*filter\n*nat\nCOMMIT\n',
    multi: '*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:X - [0:0]\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n-A INPUT -j KUBE-A\n-A KUBE-A -s 10.0.0.0/8 -j KUBE-B\n-A KUBE-B -p tcp -m tcp --dport 443 -j ACCEPT\n-A KUBE-B -j RETURN\nCOMMIT\n',
    midCommands: '*filter\n:A - [0:0]\n-A INPUT -j A\n-I INPUT -s 1.1.1.1\n-R INPUT 2 -j DROP\n-D INPUT 1\n-N B\n-E B C\n-P FORWARD DROP\n-Z\n-F A\n-X A\n-A INPUT -j C\nCOMMIT\n',
    midError: '*filter\n-A INPUT -j ACCEPT\n-D INPUT 5\nCOMMIT\n',
    blankAndComments: '\n# a\n*filter\n\n# b\n-A INPUT -j ACCEPT\n  \nCOMMIT\n# done\n',
    commitSpace: '*filter\n-A INPUT -j ACCEPT\nCOMMIT \n',
    noNewline: '*filter\n-A INPUT -j ACCEPT\nCOMMIT',
    badRule: '*filter\n-A INPUT -s 1.2.3.300\nCOMMIT\n',
    badOpt: '*filter\n-A INPUT --foo\nCOMMIT\n',
    wInRestore: '*filter\n-A INPUT -w -j ACCEPT\nCOMMIT\n',
    v6Line: '*filter\n-6 -A INPUT -j ACCEPT\n-4 -A INPUT -j DROP\nCOMMIT\n',
    longChain: '*filter\n:12345678901234567890123456789 - [0:0]\nCOMMIT\n',
    natDrop: '*nat\n:PREROUTING DROP [0:0]\nCOMMIT\n',
    tcpRules: '*filter\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A INPUT -p udp -m udp --sport 53 -j ACCEPT\n-A INPUT -p icmp --icmp-type echo-request -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n',
  };
  for (const [name, text] of Object.entries(files)) add(`restore ${name}`, restore(text));
  add('restore counters', restore(files.basic!, '-c'), save('-c'));
  add('restore counters bad', restore('*filter\n:INPUT ACCEPT\nCOMMIT\n', '-c'));
  add('restore test', restore(files.basic!, '-t'));
  add('restore test bad', restore(files.badRule!, '-t'));
  add('restore table', restore('*filter\n-A INPUT -j ACCEPT\nCOMMIT\n*raw\n-A PREROUTING -j ACCEPT\nCOMMIT\n', '-T', 'raw'));
  add('restore verbose', restore('# hi\n*filter\n-A INPUT -j ACCEPT\nCOMMIT\n*raw\nCOMMIT\n', '-v'));
  add('restore noflush', cmd('-N A'), cmd('-A A -j ACCEPT'), cmd('-A INPUT -j A'), cmd('-A INPUT -s 9.9.9.9'),
    restore('*filter\n:A - [0:0]\n-A A -s 1.1.1.1\n:INPUT DROP [0:0]\nCOMMIT\n', '--noflush'));
  add('restore noflush busy', cmd('-N A'), cmd('-A A -j ACCEPT'), restore('*filter\n-X A\nCOMMIT\n', '-n'));
  add('restore flush', cmd('-N A'), cmd('-A INPUT -j A'), cmd('-P INPUT DROP'), restore('*filter\nCOMMIT\n'));
  add('restore help', restore('', '-h'));
  add('restore badopt', restore('', '--foo'));
  add('restore badshort', restore('', '-x'));
  add('restore nofile', restore('', '/nonexistent'));
  add('restore twofiles', restore('', 'a', 'b'));
  add('restore version', restore('', '-V'));
  add('restore wait', restore('*filter\nCOMMIT\n', '-w'));
  add('restore wait5', restore('*filter\nCOMMIT\n', '-w', '5'));
  add('restore roundtrip', restore(files.multi!), save(), cmd('-F'), cmd('-X'), restore(files.multi!, '-n'), cmd('-S'));
  return cases;
}

/** Candidate values for generated extension option cases. */
const VALUES = ['80', '1:1024', 'x', 'NEW,ESTABLISHED', 'SYN,ACK SYN'];

export function extensionCases(): Case[] {
  const cases: Case[] = [];
  const seen = new Set<unknown>();
  for (const [name, m] of MATCHES) {
    if (seen.has(m)) continue;
    seen.add(m);
    const proto = name === 'udp' || name === 'icmp' ? name : 'tcp';
    const steps: Step[] = [];
    for (const o of m.options) {
      const prefix = ['-A', 'INPUT', '-p', proto, '-m', name];
      if (o.args === 0) {
        steps.push(ipt(...prefix, `--${o.name}`));
        steps.push(ipt(...prefix, '!', `--${o.name}`));
        steps.push(ipt(...prefix, `--${o.name}`, `--${o.name}`));
        continue;
      }
      VALUES.forEach((v, i) => {
        const vals = o.args === 2 ? v.split(' ').concat(v.includes(' ') ? [] : ['ALL']) : [v];
        steps.push(ipt(...prefix, `--${o.name}`, ...vals));
        if (i < 1) steps.push(ipt(...prefix, '!', `--${o.name}`, ...vals));
        if (i === 0) steps.push(ipt(...prefix, `--${o.name}`, ...vals, `--${o.name}`, ...vals));
      });
      steps.push(ipt(...prefix, `--${o.name}`));
    }
    steps.push(ipt('-L', 'INPUT'), ipt('-L', 'INPUT', '-n'));
    for (let i = 0; i < steps.length; i += 40) cases.push({ id: `match ${name} ${i / 40}`, steps: steps.slice(i, i + 40) });
  }
  for (const [name, t] of TARGETS) {
    const steps: Step[] = [];
    const chain = ['DNAT', 'REDIRECT'].includes(name) ? 'PREROUTING' : ['SNAT', 'MASQUERADE'].includes(name) ? 'POSTROUTING' : 'INPUT';
    const table = ['DNAT', 'SNAT', 'MASQUERADE', 'REDIRECT'].includes(name) ? 'nat' : 'filter';
    const prefix = ['-t', table, '-A', chain, '-p', 'tcp', '-j', name];
    steps.push(ipt(...prefix));
    for (const o of t.options) {
      if (o.args === 0) {
        steps.push(ipt(...prefix, `--${o.name}`));
        continue;
      }
      for (const v of ['1', 'x', '1.2.3.4:80', 'tcp-reset', 'info']) steps.push(ipt(...prefix, `--${o.name}`, v));
    }
    steps.push(ipt('-t', table, '-L', '-n'), ipt('-t', table, '-S'));
    for (let i = 0; i < steps.length; i += 40) cases.push({ id: `target ${name} ${i / 40}`, steps: steps.slice(i, i + 40), env: { BPFTABLES_MODEL_ONLY: '1' } });
  }
  return cases;
}

export function allCases(): Case[] {
  return [...handCases(), ...restoreCases(), ...extensionCases()];
}
