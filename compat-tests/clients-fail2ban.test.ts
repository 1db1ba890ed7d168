// Real client: Debian's fail2ban (1.0.x), unmodified, banning through its iptables actions —
// once with iptables-nft first on the server's PATH (the oracle) and once with bpftables
// (dist/bin). Each run has its own config dir (a copy of /etc/fail2ban without jail.d, plus the
// .local files below), socket, pidfile, database and log, and its server runs inside a scratch
// network namespace; the host's fail2ban service, /etc/fail2ban and iptables are never used.
//
// The actions run shell snippets such as
//   { iptables -w -C f2b-<jail> -j RETURN >/dev/null 2>&1; } || { iptables -w -N f2b-<jail> || true; iptables -w -A f2b-<jail> -j RETURN; }
//   iptables -w -C INPUT -p tcp -m multiport --dports 22,80 -j f2b-<jail> || iptables -w -I INPUT ...
//   iptables -w -I f2b-<jail> 1 -s <ip> -j REJECT --reject-with icmp-port-unreachable
//   iptables -w -D f2b-<jail> -s <ip> -j REJECT ...; iptables -w -F / -X f2b-<jail>
// so they rely on -C's exit code, -N's "Chain already exists" failure, -I with a position, -D
// by rule spec and -X.
//
// Topology: namespace `srv` (eth0 10.123.8.1/24, a TCP listener on 22) ─ veth ─ `peer`
// (10.123.8.2/24). Scenario per implementation:
//   start (two jails: bpft-mp with iptables-multiport on 22,80; bpft-all with iptables-allports)
//   peer → srv:22 open
//   `set bpft-mp banip 192.0.2.5`; three failure lines for 10.123.8.2 in the jail's log file;
//   `set bpft-all banip 192.0.2.6` → iptables-save; peer → srv:22 refused (REJECT
//   icmp-port-unreachable), peer → srv ping still answered (the multiport jump is tcp only)
//   `set bpft-mp unbanip 10.123.8.2` → peer → srv:22 open again
//   `stop` → every f2b chain and jump removed, the server gone.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/netns.ts';
import { cleanupsAfterAll, bpftablesMissing, link, normaliseSave, Ns, pings, removeDir, scratchDir, sh, toolDir, type ClientImpl, type Run } from './clients/lib.ts';

const CI = process.env.CI === 'true';
const missing = bpftablesMissing();
const clientMissing = existsSync('/usr/bin/fail2ban-client') && existsSync('/etc/fail2ban/action.d/iptables-multiport.conf') ? undefined : 'fail2ban not installed (compat-tests/clients/setup.sh)';
if (CI && clientMissing) throw new Error(`clients-fail2ban: ${clientMissing}`);
// Each action runs 3-6 iptables commands; through dist/bin (Node) on a loaded 2-core machine one
// command can take a second or more, and the first one starts the datapath.
const WAIT_MS = 180_000;
const TEST_TIMEOUT = 900_000;
const PROBE = join(ROOT, 'scripts', 'netprobe.mjs');

const cleanups = cleanupsAfterAll();

/** A fail2ban config dir of its own: the packaged actions and filters, our jails, our paths. */
function configDir(run: string): string {
  const conf = join(run, 'conf');
  cpSync('/etc/fail2ban', conf, { recursive: true });
  // jail.d/defaults-debian.conf enables the sshd jail; only our jails run.
  for (const f of readdirSync(join(conf, 'jail.d'))) rmSync(join(conf, 'jail.d', f));
  writeFileSync(
    join(conf, 'fail2ban.local'),
    ['[DEFAULT]', 'loglevel = INFO', `logtarget = ${run}/fail2ban.log`, `socket = ${run}/f2b.sock`, `pidfile = ${run}/f2b.pid`, `dbfile = ${run}/f2b.sqlite3`, ''].join('\n'),
  );
  writeFileSync(join(conf, 'filter.d', 'bpft-auth.conf'), ['[Definition]', 'failregex = bpft-auth: authentication failure from <HOST>$', ''].join('\n'));
  const jail = (name: string, banaction: string, log: string, extra: string[]): string[] => [
    `[${name}]`,
    'enabled = true',
    'filter = bpft-auth',
    `logpath = ${run}/${log}`,
    'backend = polling',
    `banaction = ${banaction}`,
    'maxretry = 3',
    'findtime = 600',
    'bantime = 3600',
    ...extra,
    '',
  ];
  writeFileSync(
    join(conf, 'jail.local'),
    [...jail('bpft-mp', 'iptables-multiport', 'auth.log', ['port = 22,80']), ...jail('bpft-all', 'iptables-allports', 'all.log', [])].join('\n'),
  );
  writeFileSync(join(run, 'auth.log'), '');
  writeFileSync(join(run, 'all.log'), '');
  return conf;
}

function logLine(ip: string): string {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  // Local time, as syslog writes it; fail2ban reads it with the same time zone.
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} srv bpft-auth: authentication failure from ${ip}\n`;
}

function sleep(ms: number): void {
  sh(['sleep', String(ms / 1000)]);
}

/** Polls fn every 0.5 s until it returns true or ms have passed; the last result. */
function waitFor(fn: () => boolean, ms: number): boolean {
  const end = Date.now() + ms;
  for (;;) {
    if (fn()) return true;
    if (Date.now() > end) return false;
    sleep(500);
  }
}

interface Outcome {
  startCode: number;
  afterStart: string;
  openBefore: string;
  banipOut: string;
  logBanned: boolean;
  banned: string;
  probeBanned: string;
  pingBanned: boolean;
  otherSourceOpen: string;
  unbanCode: number;
  unbanned: string;
  openAfterUnban: string;
  stopCode: number;
  afterStop: string;
  serverGone: boolean;
}

function scenario(impl: ClientImpl): Outcome {
  const tools = toolDir(impl);
  const run = scratchDir(`f2b-${impl}`);
  const conf = configDir(run);
  const srv = new Ns('f2b');
  const peer = new Ns('f2bp');
  const other = new Ns('f2bo');
  let listener: ChildProcess | undefined;
  cleanups.push(() => {
    // A server still running (a failed stop) is ended by its pid, then everything removed.
    if (existsSync(join(run, 'f2b.pid'))) sh(['kill', readFileSync(join(run, 'f2b.pid'), 'utf8').trim()]);
    if (listener?.pid) sh(['kill', String(listener.pid)]);
    srv.destroy();
    peer.destroy();
    other.destroy();
    removeDir(run);
    removeDir(tools);
  });
  link(srv, 'eth0', '10.123.8.1/24', peer, 'eth0', '10.123.8.2/24');
  link(srv, 'eth1', '10.123.9.1/24', other, 'eth0', '10.123.9.2/24');
  listener = spawn('ip', ['netns', 'exec', srv.name, process.execPath, PROBE, 'listen-tcp', '22'], { stdio: 'ignore' });
  sleep(500);

  const env = { ...process.env, PATH: `${tools}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
  const client = (args: string[]): Run => srv.exec(['fail2ban-client', '-c', conf, ...args], { env });
  const save = (): string => normaliseSave(srv.must([join(tools, 'iptables-save'), '-t', 'filter']));
  const tcp = (from: Ns, host: string): string => from.exec([process.execPath, PROBE, 'tcp', host, '22', '2000']).stdout.trim();
  const explain = (what: string, r: Run): void => {
    if (r.code !== 0) process.stderr.write(`fail2ban-client ${what} (${impl}) → exit ${r.code}\n${r.stdout}${r.stderr}\n`);
  };

  const start = client(['start']);
  explain('start', start);
  const afterStart = save();
  const openBefore = tcp(peer, '10.123.8.1');

  const banip = client(['set', 'bpft-mp', 'banip', '192.0.2.5']);
  explain('banip', banip);
  for (let i = 0; i < 3; i++) appendFileSync(join(run, 'auth.log'), logLine('10.123.8.2'));
  const logBanned = waitFor(() => client(['status', 'bpft-mp']).stdout.includes('10.123.8.2'), WAIT_MS);
  explain('banip (allports)', client(['set', 'bpft-all', 'banip', '192.0.2.6']));
  // Bans are carried out by the jail's action thread after the command returns.
  waitFor(() => {
    const s = save();
    return s.includes('-s 10.123.8.2/32') && s.includes('-s 192.0.2.5/32') && s.includes('-s 192.0.2.6/32');
  }, WAIT_MS);
  const banned = save();
  const probeBanned = tcp(peer, '10.123.8.1');
  const pingBanned = pings(peer, '10.123.8.1');
  const otherSourceOpen = tcp(other, '10.123.9.1');

  const unban = client(['set', 'bpft-mp', 'unbanip', '10.123.8.2']);
  explain('unbanip', unban);
  waitFor(() => !save().includes('-s 10.123.8.2/32'), WAIT_MS);
  const unbanned = save();
  const openAfterUnban = tcp(peer, '10.123.8.1');

  const stop = client(['stop']);
  explain('stop', stop);
  const afterStop = save();
  const serverGone = waitFor(() => !existsSync(join(run, 'f2b.sock')), 30_000);
  if (!afterStop.includes('COMMIT') || stop.code !== 0) process.stderr.write(`fail2ban.log (${impl}):\n${existsSync(join(run, 'fail2ban.log')) ? readFileSync(join(run, 'fail2ban.log'), 'utf8') : ''}\n`);
  return {
    startCode: start.code,
    afterStart,
    openBefore,
    banipOut: banip.stdout.trim(),
    logBanned,
    banned,
    probeBanned,
    pingBanned,
    otherSourceOpen,
    unbanCode: unban.code,
    unbanned,
    openAfterUnban,
    stopCode: stop.code,
    afterStop,
    serverGone,
  };
}

const memo = new Map<ClientImpl, Outcome>();
function outcome(impl: ClientImpl): Outcome {
  if (!memo.has(impl)) memo.set(impl, scenario(impl));
  return memo.get(impl)!;
}

const EMPTY = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT'];

describe.skipIf(!!clientMissing)('fail2ban (iptables-multiport, iptables-allports)', () => {
  it(
    'against iptables-nft (oracle): bans from banip and from the log, REJECT verdicts, unban, stop',
    () => {
      const o = outcome('nft');
      expect(o.startCode).toBe(0);
      // The actions start on demand (first ban), so start alone adds nothing.
      expect(o.afterStart).toContain(EMPTY.join('\n'));
      expect(o.openBefore).toBe('open');
      expect(o.logBanned).toBe(true);
      const rules = o.banned.split('\n').filter((l) => l.startsWith('-A ') || l.startsWith(':f2b'));
      expect(rules.sort()).toEqual(
        [
          ':f2b-bpft-all - [0:0]',
          ':f2b-bpft-mp - [0:0]',
          '-A INPUT -p tcp -j f2b-bpft-all',
          '-A INPUT -p tcp -m multiport --dports 22,80 -j f2b-bpft-mp',
          '-A f2b-bpft-all -s 192.0.2.6/32 -j REJECT --reject-with icmp-port-unreachable',
          '-A f2b-bpft-all -j RETURN',
          '-A f2b-bpft-mp -s 10.123.8.2/32 -j REJECT --reject-with icmp-port-unreachable',
          '-A f2b-bpft-mp -s 192.0.2.5/32 -j REJECT --reject-with icmp-port-unreachable',
          '-A f2b-bpft-mp -j RETURN',
        ].sort(),
      );
      expect({ banned: o.probeBanned, ping: o.pingBanned, other: o.otherSourceOpen, unbanned: o.openAfterUnban }).toEqual({
        banned: 'refused',
        ping: true,
        other: 'open',
        unbanned: 'open',
      });
      expect(o.unbanned).not.toContain('10.123.8.2');
      expect(o.unbanned).toContain('-s 192.0.2.5/32');
      expect(o.stopCode).toBe(0);
      expect(o.afterStop).toContain(EMPTY.join('\n'));
      expect(o.afterStop).not.toContain('f2b-');
      expect(o.serverGone).toBe(true);
    },
    TEST_TIMEOUT,
  );

  it.skipIf(!CI && !!missing)(
    `bpftables: same iptables-save at every step, same verdicts${missing ? ` (skipped: ${missing})` : ''}`,
    () => {
      if (missing) throw new Error(missing);
      expect(outcome('bpftables')).toEqual(outcome('nft'));
    },
    TEST_TIMEOUT,
  );
});
