// Real client: Debian's Shorewall (5.2.x), unmodified — the firewall compiler that probes what
// iptables supports (it adds test rules with each match and target to scratch chains), compiles
// its zone / policy / rules files into an iptables-restore run, and `clear`s back to accept-all.
// Once with iptables-nft (the oracle) and once with bpftables (dist/bin), through its own
// setting IPTABLES=<path> in shorewall.conf.
//
// Shorewall keeps state in /var/lib/shorewall and reads /etc/shorewall, so each run binds
// scratch directories over both in a private mount namespace (unshare -m inside `ip netns
// exec`); the host's Shorewall files, service and iptables are never touched.
//
// The rulesets differ on purpose: Shorewall adapts to the probed capabilities, and bpftables
// refuses (so Shorewall does without) what its datapath cannot enforce — addrtype (Shorewall then
// drops broadcasts by address), conntrack --ctorigdst (it then uses -m state), MARK, nat, ....
// The packaged LOGLIMIT="s:1/sec:10" is kept: its log rules use hashlimit (per source).
// So the test compares what a user sees: exit codes and packet verdicts, and checks that
// bpftables' iptables-save holds Shorewall's rules and that `clear` empties it.
//
// Topology: `srv` (eth0 10.123.12.1/24, TCP listeners on 22 and 80) ─ veth ─ `peer`
// (10.123.12.2/24). Config: Shorewall's one-interface example (policy $FW→net ACCEPT,
// net→all DROP; rules Ping(DROP) net→$FW) plus SSH(ACCEPT) net→$FW.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/netns.ts';
import { cleanupsAfterAll, BPFTABLES_BIN, bpftablesMissing, link, normaliseSave, Ns, pings, removeDir, scratchDir, sh, type ClientImpl } from './clients/lib.ts';

const CI = process.env.CI === 'true';
const missing = bpftablesMissing();
const EXAMPLE = '/usr/share/doc/shorewall/examples/one-interface';
const clientMissing = existsSync('/sbin/shorewall') && existsSync(EXAMPLE) && existsSync('/var/lib/shorewall') ? undefined : 'shorewall not installed (compat-tests/clients/setup.sh)';
if (CI && clientMissing) throw new Error(`clients-shorewall: ${clientMissing}`);
const TEST_TIMEOUT = 900_000;
const PROBE = join(ROOT, 'scripts', 'netprobe.mjs');

const cleanups = cleanupsAfterAll();

function configDir(dir: string, iptables: string): string {
  const conf = join(dir, 'etc');
  mkdirSync(conf);
  for (const f of readdirSync(EXAMPLE)) if (!f.endsWith('.annotated') && f !== 'README.txt') copyFileSync(join(EXAMPLE, f), join(conf, f));
  const settings: Record<string, string> = { IPTABLES: iptables, STARTUP_ENABLED: 'Yes', LOGFILE: join(dir, 'log') };
  const text = readFileSync(join(conf, 'shorewall.conf'), 'utf8').replace(/^([A-Z_]+)=.*$/gm, (l, k: string) => (k in settings ? `${k}=${settings[k]}` : l));
  writeFileSync(join(conf, 'shorewall.conf'), text);
  appendFileSync(join(conf, 'rules'), 'SSH(ACCEPT)\tnet\t$FW\n');
  writeFileSync(join(dir, 'log'), '');
  mkdirSync(join(dir, 'var'));
  return conf;
}

interface Outcome {
  startCode: number;
  verdicts: Record<string, string | boolean>;
  clearCode: number;
  afterClear: Record<string, string | boolean>;
  restartCode: number;
  clearAgainCode: number;
}

const saves = new Map<ClientImpl, { started: string; cleared: string }>();

function scenario(impl: ClientImpl): Outcome {
  const dir = scratchDir(`sw-${impl}`);
  const iptables = impl === 'bpftables' ? join(BPFTABLES_BIN, 'iptables') : '/usr/sbin/iptables-nft';
  const conf = configDir(dir, iptables);
  const srv = new Ns('sw');
  const peer = new Ns('swp');
  const listeners: ChildProcess[] = [];
  cleanups.push(() => {
    for (const l of listeners) if (l.pid) sh(['kill', String(l.pid)]);
    srv.destroy();
    peer.destroy();
    removeDir(dir);
  });
  link(srv, 'eth0', '10.123.12.1/24', peer, 'eth0', '10.123.12.2/24');
  for (const p of [22, 80]) listeners.push(spawn('ip', ['netns', 'exec', srv.name, process.execPath, PROBE, 'listen-tcp', String(p)], { stdio: 'ignore' }));
  sh(['sleep', '0.5']);

  const shorewall = (action: string): number => {
    const script = 'mount --bind "$1" /var/lib/shorewall && mount --bind "$2" /etc/shorewall && exec /sbin/shorewall "$3"';
    // A clean environment, as from a service manager: Shorewall copies variables it did not set
    // into the compiled script, and npm's (npm_lifecycle_script='vitest') break its quoting.
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...(process.env.BPFTABLES_TEST_NO_DATAPATH ? { BPFTABLES_TEST_NO_DATAPATH: process.env.BPFTABLES_TEST_NO_DATAPATH } : {}) };
    const r = srv.exec(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', join(dir, 'var'), conf, action], { env });
    if (r.code !== 0) process.stderr.write(`shorewall ${action} (${impl}) → exit ${r.code}\n${r.stdout}${r.stderr}\n`);
    return r.code;
  };
  const save = (): string => normaliseSave(srv.must([impl === 'bpftables' ? join(BPFTABLES_BIN, 'iptables-save') : 'iptables-nft-save', '-t', 'filter']));
  const tcp = (port: number): string => peer.exec([process.execPath, PROBE, 'tcp', '10.123.12.1', String(port), '2000']).stdout.trim();
  const verdicts = (): Record<string, string | boolean> => ({ ssh: tcp(22), http: tcp(80), ping: pings(peer, '10.123.12.1'), out: pings(srv, '10.123.12.2') });

  const startCode = shorewall('start');
  const started = save();
  const v = verdicts();
  const restartCode = shorewall('restart');
  const clearCode = shorewall('clear');
  const cleared = save();
  const afterClear = verdicts();
  const clearAgainCode = shorewall('clear');
  saves.set(impl, { started, cleared });
  return { startCode, verdicts: v, clearCode, afterClear, restartCode, clearAgainCode };
}

const memo = new Map<ClientImpl, Outcome>();
function outcome(impl: ClientImpl): Outcome {
  if (!memo.has(impl)) memo.set(impl, scenario(impl));
  return memo.get(impl)!;
}

const EMPTY = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT'].join('\n');

describe.skipIf(!!clientMissing)('shorewall (capability probes, compile + iptables-restore, restart, clear)', () => {
  it(
    'against iptables-nft (oracle)',
    () => {
      const o = outcome('nft');
      expect(o).toEqual({
        startCode: 0,
        verdicts: { ssh: 'open', http: 'timeout', ping: false, out: true },
        restartCode: 0,
        clearCode: 0,
        afterClear: { ssh: 'open', http: 'open', ping: true, out: true },
        clearAgainCode: 0,
      });
      expect(saves.get('nft')!.started).toContain('-A net-fw -p tcp -m tcp --dport 22 -m comment --comment SSH -j ACCEPT');
    },
    TEST_TIMEOUT,
  );

  it.skipIf(!CI && !!missing)(
    `bpftables: starts, restarts and clears with the same verdicts${missing ? ` (skipped: ${missing})` : ''}`,
    () => {
      if (missing) throw new Error(missing);
      const b = outcome('bpftables');
      const s = saves.get('bpftables')!;
      expect(s.started).toContain('-A net-fw -p tcp -m tcp --dport 22 -m comment --comment SSH -j ACCEPT');
      expect(s.started).toContain('-A net-fw -p icmp -m icmp --icmp-type 8 -m comment --comment Ping -j DROP');
      // LOGLIMIT="s:1/sec:10": the log rules are rate-limited per source, as with iptables-nft.
      const logLimit = (t: string) => t.split('\n').filter((l) => /-m hashlimit .*-j LOG/.test(l)).length;
      expect(logLimit(s.started)).toBeGreaterThan(0);
      expect(logLimit(s.started)).toBe(logLimit(saves.get('nft')!.started));
      expect(s.cleared).toContain(EMPTY);
      expect(s.cleared).not.toMatch(/^-A /m);
      expect(b).toEqual(outcome('nft'));
    },
    TEST_TIMEOUT,
  );
});
