// FORWARD with real traffic: A — R — B over two veth pairs, the datapath attached in the router
// namespace R only. ICMP to B is dropped by a FORWARD rule matching the out interface, ICMP to
// R itself (INPUT) still passes, and the rule and policy counters count what crossed.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatapath, type Datapath } from '../bpf/loader/api.ts';
import { compileTable } from '../classifier/compile.ts';
import { STUB_LOOKUP } from '../classifier/testing.ts';
import { emptyTable, zeroCounters, type Rule } from '../ruleset/types.ts';
import { netnsAdd, netnsDel, sh, withNetns } from './datapath-helpers.ts';

const NA = `bpft-dp-fa-${process.pid}`;
const NR = `bpft-dp-fr-${process.pid}`;
const NB = `bpft-dp-fb-${process.pid}`;
let dp: Datapath | undefined;

function run(cmd: string[]): void {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
}

beforeAll(() => {
  for (const n of [NA, NR, NB]) netnsAdd(n);
  run(['ip', 'link', 'add', 'bpft-fa0', 'netns', NA, 'type', 'veth', 'peer', 'name', 'bpft-fr0', 'netns', NR]);
  run(['ip', 'link', 'add', 'bpft-fb0', 'netns', NB, 'type', 'veth', 'peer', 'name', 'bpft-fr1', 'netns', NR]);
  run(['ip', '-n', NA, 'addr', 'add', '10.198.1.1/24', 'dev', 'bpft-fa0']);
  run(['ip', '-n', NR, 'addr', 'add', '10.198.1.2/24', 'dev', 'bpft-fr0']);
  run(['ip', '-n', NR, 'addr', 'add', '10.198.2.2/24', 'dev', 'bpft-fr1']);
  run(['ip', '-n', NB, 'addr', 'add', '10.198.2.1/24', 'dev', 'bpft-fb0']);
  for (const [n, d] of [[NA, 'bpft-fa0'], [NR, 'bpft-fr0'], [NR, 'bpft-fr1'], [NB, 'bpft-fb0']]) run(['ip', '-n', n, 'link', 'set', d, 'up']);
  run(['ip', '-n', NA, 'route', 'add', 'default', 'via', '10.198.1.2']);
  run(['ip', '-n', NB, 'route', 'add', 'default', 'via', '10.198.2.2']);
  sh(NR, 'sysctl -qw net.ipv4.ip_forward=1', { check: true });
});

afterAll(() => {
  if (dp) withNetns(NR, () => dp!.teardown());
  for (const n of [NA, NR, NB]) netnsDel(n);
});

describe('FORWARD hook', () => {
  it('drops forwarded ICMP by out interface, leaves INPUT alone, counts rule and policy', () => {
    const ping = (to: string) => sh(NA, `ping -c 1 -W 1 ${to}`).code === 0;
    expect(ping('10.198.2.1')).toBe(true);
    const t = emptyTable('filter');
    const rule: Rule = { id: 16, outIface: { name: 'bpft-fr1', invert: false }, proto: { proto: 1, invert: false }, matches: [], counters: zeroCounters(), target: { kind: 'standard', verdict: 'DROP' } };
    t.chains[1].rules.push(rule);
    const spec = compileTable(t, STUB_LOOKUP);
    withNetns(NR, () => {
      dp = ensureDatapath();
      dp.commit(spec, [0, 1, 2, 16].map((id) => ({ id, packets: 0n, bytes: 0n })));
    });
    expect(ping('10.198.2.1')).toBe(false); // forwarded: dropped
    expect(ping('10.198.1.2')).toBe(true); // to the router: INPUT, accepted
    const c = withNetns(NR, () => dp!.readCounters([0, 1, 16]));
    expect(c.get(16)!.packets).toBe(1n);
    expect(c.get(16)!.bytes).toBe(84n);
    expect(c.get(0)!.packets).toBeGreaterThanOrEqual(1n);
    // B → A: the request leaves through bpft-fr0 (FORWARD policy), the reply towards B
    // through bpft-fr1 (rule 16): the ping fails, one more packet on each counter.
    const p1 = c.get(1)!.packets;
    expect(sh(NB, 'ping -c 1 -W 1 10.198.1.1').code).not.toBe(0);
    const d = withNetns(NR, () => dp!.readCounters([1, 16]));
    expect(d.get(1)!.packets - p1).toBe(1n);
    expect(d.get(16)!.packets).toBe(2n);
  });
});
