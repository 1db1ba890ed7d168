// pcn-iptables-init / -init-xdp / -clean (bin/pcn.ts) in a scratch namespace: init starts
// filtering with an empty ruleset and the datapath attached; rules added afterwards with
// bpftables' iptables are enforced; clean removes programs, pins and the stored ruleset, and
// traffic flows again. Runs the functions through compat-tests/clients/pcn-run.ts (tsx) until
// bin/main.ts dispatches the pcn-* program names.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ROOT } from './lib/netns.ts';
import { BPFTABLES_BIN, bpftablesMissing, link, Ns, pings } from './clients/lib.ts';

const CI = process.env.CI === 'true';
const missing = bpftablesMissing();
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const RUN = join(ROOT, 'compat-tests', 'clients', 'pcn-run.ts');

const cleanups: Array<() => void> = [];
afterAll(() => {
  for (const c of cleanups.reverse()) c();
});

describe.skipIf(!CI && !!missing)(`pcn-iptables commands${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('init attaches an empty ACCEPT ruleset, rules are enforced, clean removes everything', () => {
    if (missing) throw new Error(missing);
    const ns = new Ns('pcn');
    const peer = new Ns('pcnp');
    cleanups.push(() => {
      ns.destroy();
      peer.destroy();
    });
    link(ns, 'eth0', '10.123.7.1/24', peer, 'eth0', '10.123.7.2/24');
    const pcn = (cmd: string) => ns.exec([TSX, RUN, cmd]);
    const ipt = (args: string[]) => ns.must([join(BPFTABLES_BIN, 'iptables'), '-w', ...args]);

    const init = pcn('pcn-iptables-init');
    expect(init.stderr).toBe('');
    expect(init.code).toBe(0);
    expect(pcn('pins').stdout).toMatch(/ present\n$/);
    expect(ipt(['-S'])).toBe('-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n');
    expect(pings(peer, '10.123.7.1')).toBe(true);

    ipt(['-A', 'INPUT', '-p', 'icmp', '-s', '10.123.7.2', '-j', 'DROP']);
    expect(pings(peer, '10.123.7.1')).toBe(false);

    const xdp = pcn('pcn-iptables-init-xdp');
    expect(xdp.stderr).toBe('');
    expect(xdp.code).toBe(0);
    // The fast path is on the interface (bpf/xdp.bpf.c).
    expect(ns.exec(['ip', 'link', 'show', 'eth0']).stdout).toMatch(/ xdp|prog\/xdp/);
    // init starts over: the DROP rule is gone.
    expect(ipt(['-S'])).toBe('-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n');
    expect(pings(peer, '10.123.7.1')).toBe(true);

    ipt(['-P', 'INPUT', 'DROP']);
    expect(pings(peer, '10.123.7.1')).toBe(false);
    const clean = pcn('pcn-iptables-clean');
    expect(clean.code).toBe(0);
    expect(pcn('pins').stdout).toMatch(/ absent\n$/);
    expect(ns.exec(['ip', 'link', 'show', 'eth0']).stdout).not.toMatch(/prog\/xdp/);
    expect(ipt(['-S'])).toBe('-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n');
    expect(pings(peer, '10.123.7.1')).toBe(true);
    // Idempotent.
    expect(pcn('pcn-iptables-clean').code).toBe(0);
  }, 300_000);
});
