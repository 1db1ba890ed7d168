// Real client: Debian's CNI reference plugins (containernetworking-plugins, /usr/lib/cni), run
// unmodified through ADD / CHECK / DEL with the CNI environment and a JSON config on stdin, in
// scratch namespaces, once with iptables-nft first on PATH (the oracle) and once with
// bpftables (dist/bin). Their Go library (go-iptables) runs `iptables --version`, -w, -C, -S,
// -N, -X, -F, --list, -A, -D.
//
// Topology (all namespaces created here, addresses only inside them):
//   ctr (eth0 10.123.2.x, from host-local) ─ bridge bpftbr0 in host (10.123.2.1) ─ host
//   host up0 10.123.1.1/24 ── peer eth0 10.123.1.2/24 (route to 10.123.2.0/24 via host)
// The host's FORWARD policy is DROP, so only the firewall plugin's rules let the container out:
//   -A CNI-FORWARD -d <ctr>/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//   -A CNI-FORWARD -s <ctr>/32 -j ACCEPT
// Expected verdicts: ctr → peer answered (out NEW, reply ESTABLISHED); peer → ctr not answered.
//
// portmap needs the nat table, which bpftables does not enforce yet: its ADD must fail with
// bpftables' "not enforced" error and leave no nat rule behind (not half-work).
import { describe, expect, it } from 'vitest';
import { cniAdd, cniCheck, cniDel, type Conflist } from './clients/cni.ts';
import { cleanupsAfterAll, bpftablesMissing, link, normaliseSave, Ns, pings, removeDir, scratchDir, toolDir, type ClientImpl } from './clients/lib.ts';
import { existsSync } from 'node:fs';

const CI = process.env.CI === 'true';
const missing = bpftablesMissing();
const pluginsMissing = existsSync('/usr/lib/cni/firewall') ? undefined : 'containernetworking-plugins not installed (compat-tests/clients/setup.sh)';
if (CI && pluginsMissing) throw new Error(`clients-cni: ${pluginsMissing}`);
// go-iptables runs ~60 iptables commands per scenario; through dist/bin (Node) on a loaded
// 2-core machine each takes up to a second.
const BPFTABLES_TIMEOUT = 400_000;
const NOT_ENFORCED = /table `nat' is not enforced by the eBPF datapath/;

const cleanups = cleanupsAfterAll();

function conflist(dataDir: string, withPortmap: boolean): Conflist {
  const plugins: Conflist['plugins'] = [
    {
      type: 'bridge',
      bridge: 'bpftbr0',
      isGateway: true,
      ipMasq: false,
      ipam: { type: 'host-local', subnet: '10.123.2.0/24', dataDir, routes: [{ dst: '0.0.0.0/0' }] },
    },
    { type: 'firewall', backend: 'iptables' },
  ];
  if (withPortmap) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  return { cniVersion: '0.4.0', name: 'bpft-cli-net', plugins };
}

interface Topology {
  host: Ns;
  ctr: Ns;
  peer: Ns;
  dataDir: string;
  tools: string;
  ipt: (args: string[]) => string;
  save: (table: string) => string;
}

function topology(impl: ClientImpl): Topology {
  const host = new Ns('host');
  const ctr = new Ns('ctr');
  const peer = new Ns('peer');
  const dataDir = scratchDir('ipam');
  const tools = toolDir(impl);
  cleanups.push(() => {
    ctr.destroy();
    peer.destroy();
    host.destroy();
    removeDir(dataDir);
    removeDir(tools);
  });
  link(host, 'up0', '10.123.1.1/24', peer, 'eth0', '10.123.1.2/24');
  peer.must(['ip', 'route', 'add', '10.123.2.0/24', 'via', '10.123.1.1']);
  host.must(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  const ipt = (args: string[]): string => host.must([`${tools}/iptables`, ...args]);
  const save = (table: string): string => normaliseSave(host.must([`${tools}/iptables-save`, '-t', table]));
  ipt(['-w', '-P', 'FORWARD', 'DROP']);
  return { host, ctr, peer, dataDir, tools, ipt, save };
}

interface FirewallOutcome {
  afterAdd: string;
  ctrToPeer: boolean;
  peerToCtr: boolean;
  check: boolean;
  checkAfterTamper: boolean;
  delOk: boolean;
  afterDel: string;
}

function firewallScenario(impl: ClientImpl): FirewallOutcome {
  const t = topology(impl);
  const list = conflist(t.dataDir, false);
  const att = { host: t.host, netns: t.ctr.path, containerId: `bpft-cli-${impl}-fw`, ifname: 'eth0', toolDir: t.tools };
  const add = cniAdd(list, att);
  if (!add.ok) throw new Error(`${impl}: ADD failed in ${add.failed?.plugin}: ${add.failed?.run.stdout}${add.failed?.run.stderr}`);
  const afterAdd = t.save('filter');
  const ctrToPeer = pings(t.ctr, '10.123.1.2');
  const peerToCtr = pings(t.peer, '10.123.2.2');
  const check = cniCheck(list, att, add.result).ok;
  // Remove the plugin's per-container rules behind its back: CHECK must notice (go-iptables -C).
  t.ipt(['-w', '-F', 'CNI-FORWARD']);
  const checkAfterTamper = cniCheck(list, att, add.result).ok;
  const del = cniDel(list, att, add.result);
  return { afterAdd, ctrToPeer, peerToCtr, check, checkAfterTamper, delOk: del.ok, afterDel: t.save('filter') };
}

interface PortmapOutcome {
  addOk: boolean;
  failedPlugin?: string;
  errorText: string;
  natAfterAdd: string;
  delOk: boolean;
  natAfterDel: string;
  filterAfterDel: string;
}

function portmapScenario(impl: ClientImpl): PortmapOutcome {
  const t = topology(impl);
  const list = conflist(t.dataDir, true);
  const att = {
    host: t.host,
    netns: t.ctr.path,
    containerId: `bpft-cli-${impl}-pm`,
    ifname: 'eth0',
    toolDir: t.tools,
    runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] },
  };
  const add = cniAdd(list, att);
  const natAfterAdd = t.save('nat');
  // A runtime whose ADD failed calls DEL; give it what the plugins before the failing one
  // returned, so the bridge and firewall plugins can remove their part.
  const del = cniDel(list, att, add.result ?? add.partial);
  const e = add.failed?.error;
  return {
    addOk: add.ok,
    failedPlugin: add.failed?.plugin,
    errorText: `${e?.msg ?? ''} ${e?.details ?? ''} ${add.failed?.run.stderr ?? ''}`,
    natAfterAdd,
    delOk: del.ok,
    natAfterDel: t.save('nat'),
    filterAfterDel: t.save('filter'),
  };
}

const memo = new Map<string, unknown>();
function once<T>(key: string, f: () => T): T {
  if (!memo.has(key)) memo.set(key, f());
  return memo.get(key) as T;
}

describe.skipIf(!!pluginsMissing)('CNI reference plugins (firewall, portmap)', () => {
  it('firewall: ADD / CHECK / DEL against iptables-nft (oracle) behaves as documented', () => {
    const o = once('fw-nft', () => firewallScenario('nft'));
    expect(o.afterAdd).toContain(':CNI-FORWARD - [0:0]');
    expect(o.afterAdd).toContain('-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD');
    expect(o.afterAdd).toContain('-A CNI-FORWARD -d 10.123.2.2/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
    expect(o.afterAdd).toContain('-A CNI-FORWARD -s 10.123.2.2/32 -j ACCEPT');
    expect({ ctrToPeer: o.ctrToPeer, peerToCtr: o.peerToCtr, check: o.check, checkAfterTamper: o.checkAfterTamper, delOk: o.delOk }).toEqual({
      ctrToPeer: true,
      peerToCtr: false,
      check: true,
      checkAfterTamper: false,
      delOk: true,
    });
    expect(o.afterDel).not.toContain('10.123.2.2');
  });

  it.skipIf(!CI && !!missing)(`firewall: bpftables gives the same rulesets, CHECK results and packet verdicts${missing ? ` (skipped: ${missing})` : ''}`, () => {
    if (missing) throw new Error(missing);
    const oracle = once('fw-nft', () => firewallScenario('nft'));
    const ours = once('fw-bpftables', () => firewallScenario('bpftables'));
    expect(ours).toEqual(oracle);
  }, BPFTABLES_TIMEOUT);

  it('portmap: ADD / DEL against iptables-nft (oracle) installs and removes nat rules', () => {
    const o = once('pm-nft', () => portmapScenario('nft'));
    expect(o.addOk).toBe(true);
    expect(o.natAfterAdd).toMatch(/-A CNI-DN-\w+ .*--dport 18080 -j DNAT --to-destination 10\.123\.2\.2:80/);
    expect(o.delOk).toBe(true);
    expect(o.natAfterDel).not.toMatch(/10\.123\.2\.2/);
  });

  it.skipIf(!CI && !!missing)(`portmap: bpftables refuses the nat rules with a clear error and leaves none behind${missing ? ` (skipped: ${missing})` : ''}`, () => {
    if (missing) throw new Error(missing);
    const oracle = once('pm-nft', () => portmapScenario('nft'));
    const o = once('pm-bpftables', () => portmapScenario('bpftables'));
    expect(o.addOk).toBe(false);
    expect(o.failedPlugin).toBe('portmap');
    expect(o.errorText).toMatch(NOT_ENFORCED);
    expect(o.natAfterAdd).not.toMatch(/^-A /m);
    expect(o.delOk).toBe(true);
    expect(o.natAfterDel).not.toMatch(/^-A /m);
    // The filter table after the cleanup is what the oracle leaves after its own DEL.
    expect(o.filterAfterDel).toEqual(oracle.filterAfterDel);
  }, BPFTABLES_TIMEOUT);
});
