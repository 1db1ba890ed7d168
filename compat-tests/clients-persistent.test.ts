// Real client: Debian's netfilter-persistent / iptables-persistent, unmodified, saving and
// restoring /etc/iptables/rules.v4 — once with iptables-nft (the oracle) and once with bpftables.
//
// The plugin (/usr/share/netfilter-persistent/plugins.d/15-ip4tables) resets PATH to
// /usr/local/sbin:...:/usr/sbin, so it is pointed at an implementation the way an installed
// alternative would be: in a private mount namespace (unshare -m inside `ip netns exec`), a
// directory with iptables / iptables-save / iptables-restore is bind-mounted over
// /usr/local/sbin, and a scratch directory over /etc/iptables. The machine's real
// /etc/iptables and its iptables alternative are never touched.
//
// Scenario per implementation (namespaces A and B, each linked by veth to its own peer):
//   A: rules applied with iptables → `netfilter-persistent save` → rules.v4
//   B: `netfilter-persistent start` (iptables-restore --test, then iptables-restore) → save;
//      verdicts: peer → B ping dropped by the restored rule, B → peer ping answered (conntrack)
//   B: `netfilter-persistent flush` → empty ruleset, peer → B answered again
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanupsAfterAll, bpftablesMissing, link, normaliseSave, Ns, pings, removeDir, scratchDir, toolDir, type ClientImpl } from './clients/lib.ts';

const CI = process.env.CI === 'true';
const missing = bpftablesMissing();
const clientMissing = existsSync('/usr/sbin/netfilter-persistent') && existsSync('/etc/iptables') ? undefined : 'iptables-persistent not installed (compat-tests/clients/setup.sh)';
if (CI && clientMissing) throw new Error(`clients-persistent: ${clientMissing}`);

const RULES: string[][] = [
  ['-N', 'SSH-IN'],
  ['-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT'],
  ['-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
  ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'SSH-IN'],
  ['-A', 'INPUT', '-p', 'icmp', '--icmp-type', 'echo-request', '-s', '10.123.5.2/32', '-j', 'DROP'],
  ['-A', 'SSH-IN', '-s', '10.123.5.0/24', '-m', 'comment', '--comment', 'lab ssh', '-j', 'ACCEPT'],
  ['-A', 'SSH-IN', '-j', 'DROP'],
  ['-P', 'FORWARD', 'DROP'],
];

const cleanups = cleanupsAfterAll();

/** Runs `netfilter-persistent <action>` in ns with tools over /usr/local/sbin and etc over /etc/iptables. */
function persistent(ns: Ns, tools: string, etc: string, action: 'save' | 'start' | 'flush'): { code: number; out: string } {
  const script = 'mount --bind "$1" /etc/iptables && mount --bind "$2" /usr/local/sbin && exec /usr/sbin/netfilter-persistent "$3"';
  const r = ns.exec(['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', etc, tools, action]);
  // The outcome compares exit codes; say why one failed.
  if (r.code !== 0) process.stderr.write(`netfilter-persistent ${action} in ${ns.name} (${tools}) → exit ${r.code}\n${r.stdout}${r.stderr}\n`);
  return { code: r.code, out: r.stdout + r.stderr };
}

function pair(tag: string): { ns: Ns; peer: Ns } {
  const ns = new Ns(tag);
  const peer = new Ns(`${tag}p`);
  cleanups.push(() => {
    ns.destroy();
    peer.destroy();
  });
  link(ns, 'eth0', '10.123.5.1/24', peer, 'eth0', '10.123.5.2/24');
  return { ns, peer };
}

interface Outcome {
  saveCode: number;
  rulesV4: string;
  peerToAAfterRules: boolean;
  startCode: number;
  loaded: string;
  peerToB: boolean;
  bToPeer: boolean;
  flushCode: number;
  afterFlush: string;
  peerToBAfterFlush: boolean;
}

function scenario(impl: ClientImpl): Outcome {
  const tools = toolDir(impl);
  const etc = scratchDir('etc-iptables');
  cleanups.push(() => {
    removeDir(tools);
    removeDir(etc);
  });
  const a = pair('pa');
  for (const r of RULES) a.ns.must([join(tools, 'iptables'), '-w', ...r]);
  const peerToAAfterRules = pings(a.peer, '10.123.5.1');
  const save = persistent(a.ns, tools, etc, 'save');
  const rulesV4 = existsSync(join(etc, 'rules.v4')) ? normaliseSave(readFileSync(join(etc, 'rules.v4'), 'utf8')) : '';

  const b = pair('pb');
  const start = persistent(b.ns, tools, etc, 'start');
  const loaded = normaliseSave(b.ns.must([join(tools, 'iptables-save')]));
  const peerToB = pings(b.peer, '10.123.5.1');
  const bToPeer = pings(b.ns, '10.123.5.2');
  const flush = persistent(b.ns, tools, etc, 'flush');
  const afterFlush = normaliseSave(b.ns.must([join(tools, 'iptables-save')]));
  const peerToBAfterFlush = pings(b.peer, '10.123.5.1');
  return {
    saveCode: save.code,
    rulesV4,
    peerToAAfterRules,
    startCode: start.code,
    loaded,
    peerToB,
    bToPeer,
    flushCode: flush.code,
    afterFlush,
    peerToBAfterFlush,
  };
}

const memo = new Map<ClientImpl, Outcome>();
function outcome(impl: ClientImpl): Outcome {
  if (!memo.has(impl)) memo.set(impl, scenario(impl));
  return memo.get(impl)!;
}

describe.skipIf(!!clientMissing)('netfilter-persistent / iptables-persistent', () => {
  it('against iptables-nft (oracle): save, start, flush round-trip rules.v4 and the verdicts', () => {
    const o = outcome('nft');
    expect(o.saveCode).toBe(0);
    expect(o.rulesV4).toContain('-A SSH-IN -s 10.123.5.0/24 -m comment --comment "lab ssh" -j ACCEPT');
    expect(o.startCode).toBe(0);
    expect(o.loaded).toEqual(o.rulesV4);
    expect(o.flushCode).toBe(0);
    expect(o.afterFlush).not.toMatch(/^-A /m);
    expect({ a: o.peerToAAfterRules, peerToB: o.peerToB, bToPeer: o.bToPeer, flushed: o.peerToBAfterFlush }).toEqual({ a: false, peerToB: false, bToPeer: true, flushed: true });
  });

  it.skipIf(!CI && !!missing)(`bpftables: same rules.v4, same restored ruleset, same verdicts${missing ? ` (skipped: ${missing})` : ''}`, () => {
    if (missing) throw new Error(missing);
    expect(outcome('bpftables')).toEqual(outcome('nft'));
  }, 300_000);
});
