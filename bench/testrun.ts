// BPF_PROG_TEST_RUN ns/packet: bpftables' netfilter program with N rules (only the last one
// matching the packet) against an empty netfilter program (bench/bpf/empty_nf.bpf.c) that
// only returns NF_ACCEPT — the difference is the classification cost.
// The ruleset is loaded the way a user loads it (dist/bin/iptables-restore in a scratch
// namespace); the program is then run through bpf/loader/api.ts (openDatapath().testRun) by
// testrun-child.ts inside that namespace, with the same IPv4/UDP packet the throughput bench
// sends and the same test context (struct nf_hook_state: hook = NF_INET_LOCAL_IN, pf = IPv4)
// as the empty program gets here.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchObject } from './lib/bpfobj.ts';
import { ATTACH_NETFILTER, BpfObject, PROG_TYPE_NETFILTER, testRun } from './lib/libbpf.ts';
import { BENCH_DIR, bpftablesBuilt, createNs, deleteNs, DIST_BIN, median, NS_PREFIX, nsExec, ROOT, sleep, tempDir } from './lib/ns.ts';
import { udpFrame } from './lib/packet.ts';
import { fiveFieldRestore, throughputRestore } from './lib/rulesets.ts';

export interface TestRunPoint {
  /** bpftables: 3 fields per rule (-s -p --dport); bpftables-5f: 5 (-s -d -p --sport --dport). */
  prog: 'empty' | 'bpftables' | 'bpftables-5f';
  rules: number;
  nsPerPacket: number | null;
  /** The program's verdict for the frame (NF_ACCEPT = 1). */
  retval?: number;
  note?: string;
}

const FRAME = udpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '10.203.1.2', dstIp: '10.203.1.1', srcPort: 40000, dstPort: 9 });
const REPEAT = 200_000;
/** struct nf_hook_state for the test run: hook NF_INET_LOCAL_IN (1), pf NFPROTO_IPV4 (2). */
const NF_CTX = Buffer.alloc(48);
NF_CTX.writeUInt8(1, 0);
NF_CTX.writeUInt8(2, 1);
const ROUNDS = 5;

function timeProgram(fd: number): { ns: number; retval: number } {
  const samples: number[] = [];
  let retval = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const r = testRun(fd, { data: FRAME, ctx: NF_CTX, repeat: REPEAT });
    if (r.rc !== 0) throw new Error(`BPF_PROG_TEST_RUN failed: errno ${-r.rc}`);
    samples.push(r.duration);
    retval = r.retval;
  }
  return { ns: median(samples), retval };
}

export async function runTestRun(sizes: number[], log: (s: string) => void): Promise<TestRunPoint[]> {
  const points: TestRunPoint[] = [];
  const obj = BpfObject.load(benchObject('empty_nf'), { empty_nf: [PROG_TYPE_NETFILTER, ATTACH_NETFILTER] });
  try {
    const e = timeProgram(obj.programFd('empty_nf'));
    points.push({ prog: 'empty', rules: 0, nsPerPacket: e.ns, retval: e.retval });
    log(`  empty netfilter program: ${e.ns} ns/packet`);
  } finally {
    obj.close();
  }
  const tmp = tempDir();
  const dir = tmp.dir;
  try {
    for (const [n, prog] of sizes.flatMap((n) => (['bpftables', 'bpftables-5f'] as const).map((p) => [n, p] as const))) {
      await sleep(0); // lets a SIGINT/SIGTERM handler run between sizes
      const p: TestRunPoint = { prog, rules: n, nsPerPacket: null };
      points.push(p);
      const failed = points.find((q) => q.prog === prog && q.note?.startsWith('iptables-restore exited'));
      if (!bpftablesBuilt()) {
        p.note = 'not built (dist/bin/iptables-restore missing)';
      } else if (failed) {
        // The rulesets grow with n (each contains the smaller one's pattern): skip, don't spend minutes.
        p.note = `skipped: the ${failed.rules}-rule ruleset already failed to load`;
      } else {
        const ns = createNs(`${NS_PREFIX}tr-${process.pid}`);
        try {
          const file = join(dir, `tr-${prog}-${n}.rules`);
          const m = { chain: 'INPUT' as const, srcIp: '10.203.1.2', dstPort: 9 };
          writeFileSync(file, prog === 'bpftables' ? throughputRestore(n, m) : fiveFieldRestore(n, { ...m, dstIp: '10.203.1.1', srcPort: 40000 }));
          const r = nsExec(ns, [join(DIST_BIN, 'iptables-restore'), file], { timeout: 300_000 });
          if (r.code !== 0) throw new Error(`iptables-restore exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
          const c = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(BENCH_DIR, 'testrun-child.ts'), FRAME.subarray(14).toString('hex'), String(REPEAT), String(ROUNDS)], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
          const out = JSON.parse(c.stdout || `{"error":${JSON.stringify(`testrun-child exited ${c.status}: ${String(c.stderr).trim().split('\n').pop()}`)}}`) as { ns?: number[]; retval?: number; error?: string };
          if (out.error) throw new Error(out.error);
          p.nsPerPacket = median(out.ns!);
          p.retval = out.retval;
          if (out.retval !== 1) p.note = `verdict ${out.retval}, expected NF_ACCEPT (1) from the last rule`;
        } catch (e) {
          p.note = (e as Error).message;
        } finally {
          deleteNs(ns);
        }
      }
      log(`  ${prog.padEnd(12)} ${String(n).padStart(6)} rules: ${p.nsPerPacket === null ? `n/a (${p.note})` : `${p.nsPerPacket} ns/packet${p.note ? ` (${p.note})` : ''}`}`);
    }
  } finally {
    tmp.remove();
  }
  return points;
}

