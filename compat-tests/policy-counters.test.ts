// Policy counters of built-in chains, against iptables-nft with real packets: nf_tables creates
// base chains lazily and only chains created or touched by -P, -Z, -L -Z or a restore chain line
// count their policy (a chain created by -A shows "0 packets, 0 bytes" for ever). Each sequence
// runs in two topologies (client → server over veth): one served by iptables-nft, one by
// bpftables; after each step the client pings the server and the server's `-L -v -x` (policy
// lines and rule counters) and `iptables-save -c` must be identical.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Scratch, normalise, run, type Impl } from './lib/netns.ts';

interface Pair {
  client: Scratch;
  server: Scratch;
}

let pairNo = 0;
function pair(tag: string): Pair {
  const client = Scratch.create(`${tag}c`);
  const server = Scratch.create(`${tag}s`);
  const n = pairNo++;
  const a = `bpc${process.pid % 10000}x${n}`;
  const b = `bps${process.pid % 10000}x${n}`;
  execFileSync('ip', ['link', 'add', a, 'netns', client.name, 'type', 'veth', 'peer', 'name', b, 'netns', server.name]);
  execFileSync('ip', ['-n', client.name, 'addr', 'add', '10.77.0.1/24', 'dev', a]);
  execFileSync('ip', ['-n', server.name, 'addr', 'add', '10.77.0.2/24', 'dev', b]);
  execFileSync('ip', ['-n', client.name, 'link', 'set', a, 'up']);
  execFileSync('ip', ['-n', server.name, 'link', 'set', b, 'up']);
  return { client, server };
}

const made: Scratch[] = [];
afterAll(() => {
  for (const s of made) s.destroy();
});

const SEQUENCES: Array<{ name: string; steps: string[][] }> = [
  { name: 'a chain created by -A never counts its policy', steps: [['-A', 'INPUT', '-s', '192.0.2.1', '-j', 'DROP']] },
  { name: '-P makes it count', steps: [['-A', 'INPUT', '-s', '192.0.2.1', '-j', 'DROP'], ['-P', 'INPUT', 'ACCEPT']] },
  { name: '-Z makes it count', steps: [['-A', 'INPUT', '-s', '192.0.2.1', '-j', 'DROP'], ['-Z', 'INPUT']] },
  { name: '-L -Z makes a missing chain count', steps: [['-A', 'OUTPUT', '-s', '192.0.2.1', '-j', 'DROP'], ['-L', '-Z', 'INPUT'], ['-A', 'INPUT', '-s', '192.0.2.9', '-j', 'DROP']] },
  // Starts with an OUTPUT rule: an all-ACCEPT filter table without rules detaches the datapath
  // (nothing attached, nothing pinned), so its policy counters stay at zero where nf_tables'
  // counted base chains would go on counting (README: known differences).
  { name: '-X of the base chain stops the count', steps: [['-A', 'OUTPUT', '-s', '192.0.2.1', '-j', 'DROP'], ['-P', 'INPUT', 'ACCEPT'], ['-A', 'INPUT', '-s', '192.0.2.1', '-j', 'DROP'], ['-D', 'INPUT', '1'], ['-X', 'INPUT'], ['-A', 'INPUT', '-s', '192.0.2.9', '-j', 'DROP']] },
  { name: 'restore chain lines count, rule-only lines do not', steps: [['restore', '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 192.0.2.1 -j DROP\n-A OUTPUT -s 192.0.2.1 -j DROP\nCOMMIT\n']] },
];

function step(ns: Scratch, impl: Impl, s: string[]): { stdout: string; stderr: string; code: number } {
  return s[0] === 'restore' ? run(ns, impl, 'iptables-restore', [], s[1]) : run(ns, impl, 'iptables', s);
}

describe('policy counters like iptables-nft (base chains created lazily)', () => {
  for (const seq of SEQUENCES) {
    it(seq.name, () => {
      const ref = pair('pcr');
      const ours = pair('pco');
      made.push(ref.client, ref.server, ours.client, ours.server);
      for (const s of seq.steps) {
        const a = step(ref.server, 'nft', s);
        const b = step(ours.server, 'bpftables', s);
        expect(normalise(b.stderr), s.join(' ')).toBe(normalise(a.stderr));
        expect(b.code, s.join(' ')).toBe(a.code);
        expect(b.stdout, s.join(' ')).toBe(a.stdout);
        for (const p of [ref, ours]) expect(p.client.exec(['ping', '-c', '2', '-i', '0.2', '-W', '1', '-q', '10.77.0.2']).code).toBe(0);
        const la = run(ref.server, 'nft', 'iptables', ['-L', '-v', '-x', '-n']);
        const lb = run(ours.server, 'bpftables', 'iptables', ['-L', '-v', '-x', '-n']);
        expect(lb.stdout, `-L -v after ${s.join(' ')}`).toBe(la.stdout);
        const sa = run(ref.server, 'nft', 'iptables-save', ['-c']);
        const sb = run(ours.server, 'bpftables', 'iptables-save', ['-c']);
        expect(normalise(sb.stdout)).toBe(normalise(sa.stdout));
      }
    }, 240_000);
  }
});
