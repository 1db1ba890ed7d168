// Real client: Debian's ferm (2.5.x), the firewall front end that compiles a config file into
// an iptables-restore run (default), single iptables commands (--slow), or a flush (--flush),
// and rolls back to the previous iptables-save when anything fails — once with iptables-nft as
// its tools (the oracle) and once with bpftables (dist/bin).
//
// ferm does not take iptables from PATH or the alternatives: find_tool() looks in /usr/sbin
// first and prefers the *legacy* tools (iptables-legacy, -save, -restore). So, as a user would
// have to, it is pointed at an implementation by replacing the legacy tools: in a private mount
// namespace (unshare -m inside `ip netns exec`) a small dispatcher is bind-mounted over
// /usr/sbin/xtables-legacy-multi that execs iptables / -save / -restore of the implementation by
// the name it was called as. Nothing on the host changes.
//
// Topology: `srv` (eth0 10.123.10.1/24 to `lab` 10.123.10.2; eth1 10.123.11.1/24 to `out`
// 10.123.11.2), TCP listeners on 22, 23, 80, 8080 in srv. Scenario per implementation:
//   ferm ferm.conf         → iptables-save; verdicts (lab→22 open via the ssh-in subchain,
//                            out→22 dropped by policy, lab→23 refused by REJECT tcp-reset,
//                            out→80 and out→8080 (multiport) open, out→ping answered)
//   ferm --slow ferm.conf  → the same ruleset through single iptables commands
//   ferm bad.conf          → a connmark rule (bpftables cannot enforce it): the oracle applies it;
//                            bpftables' iptables-restore refuses with exit 1, ferm rolls back,
//                            and the previous ruleset is in place, whole
//   ferm --flush ferm.conf → empty chains, ACCEPT policies; out→22 open
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/netns.ts';
import { cleanupsAfterAll, BPFTABLES_BIN, bpftablesMissing, link, normaliseSave, Ns, pings, removeDir, scratchDir, sh, type ClientImpl } from './clients/lib.ts';

const CI = process.env.CI === 'true';
const missing = bpftablesMissing();
const clientMissing = existsSync('/usr/sbin/ferm') && existsSync('/usr/sbin/xtables-legacy-multi') ? undefined : 'ferm or iptables-legacy not installed (compat-tests/clients/setup.sh)';
if (CI && clientMissing) throw new Error(`clients-ferm: ${clientMissing}`);
const TEST_TIMEOUT = 600_000;
const PROBE = join(ROOT, 'scripts', 'netprobe.mjs');
const PORTS = [22, 23, 80, 8080];

const FERM_CONF = `@def $LAB = 10.123.10.0/24;
@def $WEB = (80 443);
domain ip table filter {
    chain INPUT {
        policy DROP;
        mod conntrack ctstate INVALID DROP;
        mod conntrack ctstate (ESTABLISHED RELATED) ACCEPT;
        interface lo ACCEPT;
        proto icmp icmp-type echo-request mod limit limit 20/second limit-burst 50 ACCEPT;
        proto tcp dport ssh saddr $LAB @subchain "ssh-in" {
            mod comment comment "lab ssh" ACCEPT;
        }
        proto tcp dport $WEB ACCEPT;
        proto tcp mod multiport destination-ports (8080 8443) ACCEPT;
        proto tcp dport (8000:8100) saddr ! 10.123.10.3 ACCEPT;
        proto udp dport 53 ACCEPT;
        proto tcp dport 23 REJECT reject-with tcp-reset;
        LOG log-prefix "ferm-drop: " log-level warning;
    }
    chain OUTPUT policy ACCEPT;
    chain FORWARD {
        policy DROP;
        interface eth0 outerface eth1 proto tcp dport (22 80) ACCEPT;
        mod state state (ESTABLISHED RELATED) ACCEPT;
    }
}
`;
// The datapath's own connection tracker keeps no connection marks: bpftables refuses the rule.
const BAD_CONF = FERM_CONF.replace('proto udp dport 53 ACCEPT;', 'proto udp dport 53 ACCEPT;\n        proto tcp dport 9998 mod connmark mark 1 ACCEPT;');

const cleanups = cleanupsAfterAll();

/** The dispatcher bind-mounted over xtables-legacy-multi: argv[0] (the symlink's name) picks the tool. */
function dispatcher(dir: string, impl: ClientImpl): string {
  const base = impl === 'bpftables' ? join(BPFTABLES_BIN, 'iptables') : '/usr/sbin/iptables-nft';
  const path = join(dir, 'xtables-multi');
  writeFileSync(
    path,
    ['#!/bin/sh', 'case "$(basename "$0")" in', `  *-save) exec ${base}-save "$@" ;;`, `  *-restore) exec ${base}-restore "$@" ;;`, `  *) exec ${base} "$@" ;;`, 'esac', ''].join('\n'),
  );
  chmodSync(path, 0o755);
  return path;
}

interface Step {
  code: number;
  save: string;
}

interface Outcome {
  fast: Step;
  verdicts: Record<string, string | boolean>;
  slow: Step;
  bad: Step;
  badSaid: string;
  flush: Step;
  afterFlush: string;
}

function scenario(impl: ClientImpl): Outcome {
  const dir = scratchDir(`ferm-${impl}`);
  const multi = dispatcher(dir, impl);
  writeFileSync(join(dir, 'ferm.conf'), FERM_CONF);
  writeFileSync(join(dir, 'bad.conf'), BAD_CONF);
  const srv = new Ns('ferm');
  const lab = new Ns('fermlab');
  const out = new Ns('fermout');
  const listeners: ChildProcess[] = [];
  cleanups.push(() => {
    for (const l of listeners) if (l.pid) sh(['kill', String(l.pid)]);
    srv.destroy();
    lab.destroy();
    out.destroy();
    removeDir(dir);
  });
  link(srv, 'eth0', '10.123.10.1/24', lab, 'eth0', '10.123.10.2/24');
  link(srv, 'eth1', '10.123.11.1/24', out, 'eth0', '10.123.11.2/24');
  for (const p of PORTS) listeners.push(spawn('ip', ['netns', 'exec', srv.name, process.execPath, PROBE, 'listen-tcp', String(p)], { stdio: 'ignore' }));
  sh(['sleep', '0.5']);

  const save = (): string =>
    normaliseSave(srv.must([impl === 'bpftables' ? join(BPFTABLES_BIN, 'iptables-save') : 'iptables-nft-save']))
      // ferm's rollback restores what iptables-save printed, counters included; only the rules count.
      .trim();
  const ferm = (args: string[]): { code: number; said: string } => {
    const script = 'mount --bind "$1" /usr/sbin/xtables-legacy-multi && shift && exec /usr/sbin/ferm "$@"';
    const r = srv.exec(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', multi, ...args]);
    return { code: r.code, said: r.stdout + r.stderr };
  };
  const step = (args: string[]): Step & { said: string } => {
    const r = ferm(args);
    if (r.code !== 0) process.stderr.write(`ferm ${args.join(' ')} (${impl}) → exit ${r.code}\n${r.said}\n`);
    return { code: r.code, save: save(), said: r.said };
  };
  const tcp = (from: Ns, host: string, port: number): string => from.exec([process.execPath, PROBE, 'tcp', host, String(port), '2000']).stdout.trim();

  const fast = step([join(dir, 'ferm.conf')]);
  const verdicts = {
    labSsh: tcp(lab, '10.123.10.1', 22),
    outSsh: tcp(out, '10.123.11.1', 22),
    labTelnet: tcp(lab, '10.123.10.1', 23),
    outWeb: tcp(out, '10.123.11.1', 80),
    outMultiport: tcp(out, '10.123.11.1', 8080),
    outPing: pings(out, '10.123.11.1'),
  };
  const slow = step(['--slow', join(dir, 'ferm.conf')]);
  const bad = step([join(dir, 'bad.conf')]);
  const flush = step(['--flush', join(dir, 'ferm.conf')]);
  const afterFlush = tcp(out, '10.123.11.1', 22);
  return {
    fast: { code: fast.code, save: fast.save },
    verdicts,
    slow: { code: slow.code, save: slow.save },
    bad: { code: bad.code, save: bad.save },
    badSaid: bad.said,
    flush: { code: flush.code, save: flush.save },
    afterFlush,
  };
}

const memo = new Map<ClientImpl, Outcome>();
function outcome(impl: ClientImpl): Outcome {
  if (!memo.has(impl)) memo.set(impl, scenario(impl));
  return memo.get(impl)!;
}

const EMPTY = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT'].join('\n');
const VERDICTS = { labSsh: 'open', outSsh: 'timeout', labTelnet: 'refused', outWeb: 'open', outMultiport: 'open', outPing: true };

describe.skipIf(!!clientMissing)('ferm (iptables-restore, --slow, rollback, --flush)', () => {
  it(
    'against iptables-nft (oracle)',
    () => {
      const o = outcome('nft');
      expect(o.fast.code).toBe(0);
      expect(o.fast.save).toContain('-A INPUT -s 10.123.10.0/24 -p tcp -m tcp --dport 22 -j ssh-in');
      expect(o.fast.save).toContain('-A INPUT -p tcp -m multiport --dports 8080,8443 -j ACCEPT');
      expect(o.fast.save).toContain('-A ssh-in -m comment --comment "lab ssh" -j ACCEPT');
      expect(o.verdicts).toEqual(VERDICTS);
      expect(o.slow).toEqual(o.fast);
      expect(o.bad.code).toBe(0);
      expect(o.bad.save).toContain('-A INPUT -p tcp -m tcp --dport 9998 -m connmark --mark 0x1 -j ACCEPT');
      expect(o.flush.code).toBe(0);
      expect(o.flush.save).toContain(EMPTY);
      expect(o.afterFlush).toBe('open');
    },
    TEST_TIMEOUT,
  );

  it.skipIf(!CI && !!missing)(
    `bpftables: same rulesets and verdicts; an unenforceable rule is refused whole and ferm rolls back${missing ? ` (skipped: ${missing})` : ''}`,
    () => {
      if (missing) throw new Error(missing);
      const b = outcome('bpftables');
      const n = outcome('nft');
      // Refused, not half-applied: ferm reports the failure and the ruleset is the previous one.
      expect(b.bad.code).not.toBe(0);
      expect(b.badSaid).toMatch(/cannot enforce rule \d+ in chain INPUT: connmark/);
      expect(b.badSaid).toContain('Firewall rules rolled back.');
      expect(b.bad.save).toEqual(n.slow.save);
      expect({ fast: b.fast, verdicts: b.verdicts, slow: b.slow, flush: b.flush, afterFlush: b.afterFlush }).toEqual({
        fast: n.fast,
        verdicts: n.verdicts,
        slow: n.slow,
        flush: n.flush,
        afterFlush: n.afterFlush,
      });
    },
    TEST_TIMEOUT,
  );
});
