// BPF_PROG_TEST_RUN ns/packet: bpftables' netfilter program with N rules (only the last one
// matching the packet) against an empty netfilter program (bench/bpf/empty_nf.bpf.c) that
// only returns NF_ACCEPT — the difference is the classification cost.
// bpftables' program is reached through what its CLI leaves behind, not through its loader's
// internals: the ruleset is restored with dist/bin/iptables-restore in a scratch namespace and
// the program is opened from its pins (<bpffs>/bpftables/<netns cookie>/, DESIGN.md), then run
// in the kernel with the same frame the throughput bench sends. The default netfilter test-run
// context is NF_INET_LOCAL_IN / IPv4, i.e. INPUT.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchObject } from './lib/bpfobj.ts';
import { ATTACH_NETFILTER, BpfObject, closeProgram, openPinnedProgram, PROG_TYPE_NETFILTER, testRun } from './lib/libbpf.ts';
import { bpftablesBuilt, createNs, deleteNs, DIST_BIN, median, nsExec, nsMust } from './lib/ns.ts';
import { udpFrame } from './lib/packet.ts';
import { throughputRestore } from './lib/rulesets.ts';

export interface TestRunPoint {
  prog: 'empty' | 'bpftables';
  rules: number;
  nsPerPacket: number | null;
  /** The program's verdict for the frame (NF_ACCEPT = 1). */
  retval?: number;
  note?: string;
}

const FRAME = udpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '10.203.1.2', dstIp: '10.203.1.1', srcPort: 40000, dstPort: 9 });
const REPEAT = 200_000;
const ROUNDS = 5;

function timeProgram(fd: number): { ns: number; retval: number } {
  const samples: number[] = [];
  let retval = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const r = testRun(fd, { data: FRAME, repeat: REPEAT });
    if (r.rc !== 0) throw new Error(`BPF_PROG_TEST_RUN failed: errno ${-r.rc}`);
    samples.push(r.duration);
    retval = r.retval;
  }
  return { ns: median(samples), retval };
}

function nsCookie(ns: string): string {
  // SO_NETNS_COOKIE (71): the key bpftables files its state under.
  return nsMust(ns, ['python3', '-c', 'import socket;s=socket.socket();print(int.from_bytes(s.getsockopt(socket.SOL_SOCKET,71,8),"little"))']).trim();
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}

export function runTestRun(sizes: number[], log: (s: string) => void): TestRunPoint[] {
  const points: TestRunPoint[] = [];
  const obj = BpfObject.load(benchObject('empty_nf'), { empty_nf: [PROG_TYPE_NETFILTER, ATTACH_NETFILTER] });
  try {
    const e = timeProgram(obj.programFd('empty_nf'));
    points.push({ prog: 'empty', rules: 0, nsPerPacket: e.ns, retval: e.retval });
    log(`  empty netfilter program: ${e.ns} ns/packet`);
  } finally {
    obj.close();
  }
  const dir = mkdtempSync(join(tmpdir(), 'bpft-bench-'));
  try {
    for (const n of sizes) {
      const p: TestRunPoint = { prog: 'bpftables', rules: n, nsPerPacket: null };
      points.push(p);
      if (!bpftablesBuilt()) {
        p.note = 'not built (dist/bin/iptables-restore missing)';
      } else {
        const ns = createNs(`bpft-bench-tr-${process.pid}`);
        try {
          const file = join(dir, `tr-${n}.rules`);
          writeFileSync(file, throughputRestore(n, { chain: 'INPUT', srcIp: '10.203.1.2', dstPort: 9 }));
          const r = nsExec(ns, [join(DIST_BIN, 'iptables-restore'), file], { timeout: 300_000 });
          if (r.code !== 0) throw new Error(`iptables-restore exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
          const cookie = nsCookie(ns);
          const roots = ['/sys/fs/bpf', '/proc/1/root/sys/fs/bpf'].map((b) => join(b, 'bpftables', cookie));
          const root = roots.find((d) => {
            try {
              return existsSync(d);
            } catch {
              return false;
            }
          });
          if (!root) throw new Error(`no pins at ${roots.join(' or ')} (datapath not loaded?)`);
          let best: { path: string; fd: number; name: string } | undefined;
          const others: number[] = [];
          for (const f of walk(root)) {
            const prog = openPinnedProgram(f);
            if (!prog) continue;
            if (prog.type !== PROG_TYPE_NETFILTER) {
              closeProgram(prog.fd);
              continue;
            }
            // Prefer the program for INPUT (LOCAL_IN), the hook the default test context uses.
            if (!best || (/in(put)?\b|local_?in/i.test(`${f} ${prog.name}`) && !/in(put)?\b|local_?in/i.test(`${best.path} ${best.name}`))) {
              if (best) others.push(best.fd);
              best = { path: f, fd: prog.fd, name: prog.name };
            } else others.push(prog.fd);
          }
          others.forEach(closeProgram);
          if (!best) throw new Error(`no netfilter program pinned under ${root}`);
          try {
            const t = timeProgram(best.fd);
            p.nsPerPacket = t.ns;
            p.retval = t.retval;
            if (t.retval !== 1) p.note = `verdict ${t.retval}, expected NF_ACCEPT (1) from the last rule`;
          } finally {
            closeProgram(best.fd);
          }
        } catch (e) {
          p.note = (e as Error).message;
        } finally {
          deleteNs(ns);
        }
      }
      log(`  bpftables ${String(n).padStart(6)} rules: ${p.nsPerPacket === null ? `n/a (${p.note})` : `${p.nsPerPacket} ns/packet${p.note ? ` (${p.note})` : ''}`}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return points;
}

