// Throughput through a veth topology, all inside scratch namespaces:
//
//   bpft-bench-snd [snd0 10.203.1.2] ⇄ [dut0 10.203.1.1] bpft-bench-dut [dut1 10.203.2.1] ⇄ [sink0 10.203.2.2] bpft-bench-sink
//
// INPUT: frames go to 10.203.1.1 and the DUT is the sink. FORWARD: frames go to 10.203.2.2
// and the DUT routes them to the sink namespace. The load generator is xdpgen.ts (XDP_TX in
// BPF_PROG_TEST_RUN live-frames mode on snd0); dut0 has GRO on because veth only delivers
// XDP-transmitted frames to a peer whose NAPI is enabled (GRO or XDP on the peer).
// Received packets are counted from the sink namespace's /proc/net/snmp Udp counters
// (InDatagrams + NoPorts + InErrors: nothing listens on the port, so delivered packets show up
// as NoPorts), read through /proc/<pid>/net/snmp of a `sleep` parked in that namespace.
// Every firewall gets a fresh topology; every result is also given as a ratio to the
// no-firewall rate of the same run, since absolute rates vary between runs and machines.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchObject } from './lib/bpfobj.ts';
import { udpFrame } from './lib/packet.ts';
import { throughputNft, throughputRestore, type MatchSpec } from './lib/rulesets.ts';
import { BENCH_DIR, bpftablesBuilt, createNs, deleteNs, DIST_BIN, must, NS_PREFIX, nsExec, nsMust, onCleanup, ROOT, sleep, tempDir } from './lib/ns.ts';

export type FwImpl = 'none' | 'iptables-legacy' | 'iptables-nft' | 'nftables-set' | 'bpftables';
export type Hook = 'INPUT' | 'FORWARD';
export const FW_IMPLS: FwImpl[] = ['none', 'iptables-legacy', 'iptables-nft', 'nftables-set', 'bpftables'];

export interface ThroughputPoint {
  hook: Hook;
  impl: FwImpl;
  rules: number;
  /** Received packets per second at the sink, or null when not measurable (see note). */
  pps: number | null;
  /** pps / no-firewall pps of the same hook in the same run. */
  ratio: number | null;
  /** Wall time to load the ruleset, ms. */
  loadMs?: number;
  note?: string;
}

export interface ThroughputOptions {
  sizes: number[];
  seconds: number;
  hooks: Hook[];
  impls: FwImpl[];
  log: (s: string) => void;
}

const SND = `${NS_PREFIX}snd`;
const DUT = `${NS_PREFIX}dut`;
const SINK = `${NS_PREFIX}sink`;
const SRC_IP = '10.203.1.2';
const SRC_PORT = 40000;
const DST_PORT = 9;

interface Topology {
  hook: Hook;
  frameHex: string;
  counterPid: number;
  destroy(): void;
}

function mac(ns: string, dev: string): string {
  const j = JSON.parse(nsMust(ns, ['ip', '-j', 'link', 'show', dev])) as { address: string }[];
  return j[0].address;
}

async function buildTopology(hook: Hook): Promise<Topology> {
  const names = [createNs(SND), createNs(DUT)];
  let sleeper: ChildProcess | undefined;
  const destroy = (): void => {
    if (sleeper && sleeper.exitCode === null) sleeper.kill('SIGKILL');
    for (const n of names.reverse()) deleteNs(n);
  };
  const unregister = onCleanup(destroy);
  try {
    must(['ip', '-n', SND, 'link', 'add', 'snd0', 'type', 'veth', 'peer', 'name', 'dut0', 'netns', DUT]);
    must(['ip', '-n', SND, 'addr', 'add', `${SRC_IP}/24`, 'dev', 'snd0']);
    must(['ip', '-n', DUT, 'addr', 'add', '10.203.1.1/24', 'dev', 'dut0']);
    must(['ip', '-n', SND, 'link', 'set', 'snd0', 'up']);
    must(['ip', '-n', DUT, 'link', 'set', 'dut0', 'up']);
    nsMust(DUT, ['ethtool', '-K', 'dut0', 'gro', 'on']);
    let sinkNs = DUT;
    let dstIp = '10.203.1.1';
    if (hook === 'FORWARD') {
      names.push(createNs(SINK));
      sinkNs = SINK;
      dstIp = '10.203.2.2';
      must(['ip', '-n', DUT, 'link', 'add', 'dut1', 'type', 'veth', 'peer', 'name', 'sink0', 'netns', SINK]);
      must(['ip', '-n', DUT, 'addr', 'add', '10.203.2.1/24', 'dev', 'dut1']);
      must(['ip', '-n', SINK, 'addr', 'add', '10.203.2.2/24', 'dev', 'sink0']);
      must(['ip', '-n', DUT, 'link', 'set', 'dut1', 'up']);
      must(['ip', '-n', SINK, 'link', 'set', 'sink0', 'up']);
      nsMust(DUT, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      // A permanent neighbour entry so forwarding never waits on ARP.
      must(['ip', '-n', DUT, 'neigh', 'replace', '10.203.2.2', 'lladdr', mac(SINK, 'sink0'), 'dev', 'dut1', 'nud', 'permanent']);
    }
    const frame = udpFrame({ srcMac: mac(SND, 'snd0'), dstMac: mac(DUT, 'dut0'), srcIp: SRC_IP, dstIp, srcPort: SRC_PORT, dstPort: DST_PORT });
    sleeper = spawn('ip', ['netns', 'exec', sinkNs, 'sleep', '3600'], { stdio: 'ignore' });
    const pid = sleeper.pid!;
    for (let i = 0; i < 200; i++) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') break;
      } catch {
        /* not yet */
      }
      await sleep(5);
    }
    return {
      hook,
      frameHex: frame.toString('hex'),
      counterPid: pid,
      destroy: () => {
        unregister();
        destroy();
      },
    };
  } catch (e) {
    unregister();
    destroy();
    throw e;
  }
}

function udpReceived(pid: number): number {
  const lines = readFileSync(`/proc/${pid}/net/snmp`, 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const head = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/).map(Number);
  const get = (k: string): number => vals[head.indexOf(k)] ?? 0;
  return get('InDatagrams') + get('NoPorts') + get('InErrors');
}

/**
 * The sender: XDP live frames (xdpgen.ts) where the kernel allows BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES; some VM kernels refuse it with EPERM even to root, and then an
 * AF_PACKET sendmmsg() loop (gen/pktgen.c) sends the same frame. The AF_PACKET sender shares
 * the receive work's CPU (veth delivers through the sender CPU's backlog), so its absolute
 * rates are lower; ratios to no firewall stay comparable within one run.
 */
export let generatorKind: 'xdp-live-frames' | 'af-packet' | undefined;

function pktgenBinary(): string {
  const src = join(BENCH_DIR, 'gen', 'pktgen.c');
  const out = join(BENCH_DIR, 'build', 'pktgen');
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(join(BENCH_DIR, 'build'), { recursive: true });
    must(['cc', '-O2', '-Wall', src, '-o', out]);
  }
  return out;
}

function spawnGenerator(t: Topology, seconds: number, kind: 'xdp-live-frames' | 'af-packet'): ChildProcess {
  const argv =
    kind === 'xdp-live-frames'
      ? [process.execPath, '--import', 'tsx', join(BENCH_DIR, 'xdpgen.ts'), benchObject('xdp_tx'), 'snd0', t.frameHex, String(seconds)]
      : [pktgenBinary(), 'snd0', t.frameHex, String(seconds)];
  return spawn('ip', ['netns', 'exec', SND, ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts the generator in the sender namespace and resolves once it is transmitting. */
async function startGenerator(t: Topology, seconds: number): Promise<ChildProcess> {
  const kind = generatorKind ?? 'xdp-live-frames';
  const child = spawnGenerator(t, seconds, kind);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        // xdpgen prints "started" before its first run: wait for one batch to have gone out.
        if (out.includes('started')) setTimeout(resolve, kind === 'xdp-live-frames' ? 150 : 0);
      });
      child.on('exit', (code) => reject(new Error(`bench: load generator exited ${code} before starting: ${err.trim()}`)));
    });
  } catch (e) {
    if (generatorKind === undefined && /errno 1\b/.test(err)) {
      generatorKind = 'af-packet';
      return startGenerator(t, seconds);
    }
    throw e;
  }
  if (child.exitCode !== null) throw new Error(`bench: load generator exited ${child.exitCode}: ${err.trim()}`);
  generatorKind = kind;
  return child;
}

async function stopGenerator(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.on('exit', () => r()));
  child.kill('SIGTERM');
  await Promise.race([done, sleep(3000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Packets per second received at the sink while the generator runs for `seconds`. */
async function measurePps(t: Topology, seconds: number): Promise<number> {
  const warm = 0.4;
  const gen = await startGenerator(t, seconds + warm + 5);
  const unregister = onCleanup(() => gen.kill('SIGKILL'));
  try {
    await sleep(warm * 1000);
    const c0 = udpReceived(t.counterPid);
    const t0 = process.hrtime.bigint();
    await sleep(seconds * 1000);
    const c1 = udpReceived(t.counterPid);
    const t1 = process.hrtime.bigint();
    return (c1 - c0) / (Number(t1 - t0) / 1e9);
  } finally {
    await stopGenerator(gen);
    unregister();
  }
}

/** Loads the ruleset into the DUT; returns the load time in ms or throws with the tool's error. */
function loadRuleset(impl: FwImpl, n: number, m: MatchSpec, dir: string): number {
  let argv: string[];
  let file: string;
  if (impl === 'nftables-set') {
    file = join(dir, `nft-${m.chain}-${n}.nft`);
    writeFileSync(file, throughputNft(n, m));
    nsExec(DUT, ['nft', 'flush', 'ruleset']);
    argv = ['nft', '-f', file];
  } else {
    file = join(dir, `ipt-${m.chain}-${n}.rules`);
    writeFileSync(file, throughputRestore(n, m));
    const tool = impl === 'iptables-legacy' ? 'iptables-legacy-restore' : impl === 'iptables-nft' ? 'iptables-nft-restore' : join(DIST_BIN, 'iptables-restore');
    argv = [tool, file];
  }
  const t0 = process.hrtime.bigint();
  const r = nsExec(DUT, argv, { timeout: 300_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`${argv[0].split('/').pop()} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0]}`);
  return ms;
}

/**
 * bpftables may not enforce yet (its datapath is separate work): load a ruleset that drops the
 * bench's packets and check that they stop arriving. Returns null when it enforces, else why not.
 */
async function bpftablesEnforces(t: Topology, m: MatchSpec, dir: string): Promise<string | null> {
  const file = join(dir, `probe-${m.chain}.rules`);
  writeFileSync(file, ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', `-A ${m.chain} -p udp -m udp --dport ${m.dstPort} -j DROP`, 'COMMIT', ''].join('\n'));
  const r = nsExec(DUT, [join(DIST_BIN, 'iptables-restore'), file], { timeout: 60_000 });
  if (r.code !== 0) return `restore failed: ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
  const pps = await measurePps(t, 0.5);
  if (pps > 1000) return `not enforcing (a DROP-all ruleset still let ${Math.round(pps / 1000)} kpps through)`;
  return null;
}

export async function runThroughput(o: ThroughputOptions): Promise<ThroughputPoint[]> {
  const points: ThroughputPoint[] = [];
  const tmp = tempDir();
  const dir = tmp.dir;
  try {
    for (const hook of o.hooks) {
      const m: MatchSpec = { chain: hook, srcIp: SRC_IP, dstPort: DST_PORT };
      let basePps: number | null = null;
      for (const impl of o.impls) {
        const sizes = impl === 'none' ? [0] : o.sizes;
        if (impl === 'bpftables' && !bpftablesBuilt()) {
          for (const n of sizes) points.push({ hook, impl, rules: n, pps: null, ratio: null, note: 'not built (dist/bin/iptables-restore missing)' });
          o.log(`  ${hook} bpftables: n/a (not built)`);
          continue;
        }
        let topo: Topology | undefined;
        try {
          topo = await buildTopology(hook);
          let notEnforcing: string | null = null;
          if (impl === 'bpftables') notEnforcing = await bpftablesEnforces(topo, m, dir);
          for (const n of sizes) {
            const p: ThroughputPoint = { hook, impl, rules: n, pps: null, ratio: null };
            points.push(p);
            try {
              if (notEnforcing) {
                // Nothing to measure; loading large rulesets only to report n/a would cost minutes.
                p.note = notEnforcing;
              } else {
                if (impl !== 'none') p.loadMs = loadRuleset(impl, n, m, dir);
                p.pps = await measurePps(topo, o.seconds);
                if (impl === 'none') basePps = p.pps;
                p.ratio = basePps ? p.pps / basePps : null;
              }
            } catch (e) {
              p.note = (e as Error).message;
            }
            o.log(`  ${hook.padEnd(7)} ${impl.padEnd(15)} ${String(n).padStart(6)} rules: ${p.pps === null ? `n/a (${p.note})` : `${fmtPps(p.pps)}  ${p.ratio === null ? '' : `${p.ratio.toFixed(3)}× no-fw`}`}${p.loadMs === undefined ? '' : `  (load ${p.loadMs.toFixed(0)} ms)`}`);
          }
        } catch (e) {
          o.log(`  ${hook} ${impl}: failed: ${(e as Error).message}`);
          for (const n of sizes) if (!points.some((p) => p.hook === hook && p.impl === impl && p.rules === n)) points.push({ hook, impl, rules: n, pps: null, ratio: null, note: (e as Error).message });
        } finally {
          topo?.destroy();
        }
      }
      // The machine's load drifts during a run: measure no firewall again at the end and use
      // the mean of both as this hook's baseline for every ratio.
      const none = points.find((p) => p.hook === hook && p.impl === 'none' && p.pps !== null);
      if (none && o.impls.length > 1) {
        let topo: Topology | undefined;
        try {
          topo = await buildTopology(hook);
          const end = await measurePps(topo, o.seconds);
          none.note = `no-firewall baseline = mean of start ${fmtPps(none.pps!)} and end ${fmtPps(end)}`;
          none.pps = (none.pps! + end) / 2;
          o.log(`  ${hook.padEnd(7)} none (again)         0 rules: ${fmtPps(end)} → baseline ${fmtPps(none.pps)}`);
        } catch (e) {
          o.log(`  ${hook} none (again): failed: ${(e as Error).message}`);
        } finally {
          topo?.destroy();
        }
        for (const p of points) if (p.hook === hook && p.pps !== null) p.ratio = p.pps / none.pps!;
      }
    }
  } finally {
    tmp.remove();
  }
  return points;
}

export function fmtPps(pps: number): string {
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)} Mpps`;
  if (pps >= 1e3) return `${(pps / 1e3).toFixed(1)} kpps`;
  return `${pps.toFixed(0)} pps`;
}
