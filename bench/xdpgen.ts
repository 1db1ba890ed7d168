// Load generator, run inside the sender namespace (`ip netns exec bpft-bench-snd …`):
// BPF_PROG_TEST_RUN in live-frames mode on `ifname` with an XDP program that returns XDP_TX,
// so each repetition transmits one copy of the frame out of that veth. Runs until `seconds`
// have elapsed (or it is killed). Prints the frames it asked the kernel to send as JSON.
//
// argv: <object> <ifname> <frame hex> <seconds>
import { readFileSync } from 'node:fs';
import { BpfObject, BPF_F_TEST_XDP_LIVE_FRAMES, testRun } from './lib/libbpf.ts';

const [objPath, ifname, frameHex, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const ifindex = Number(readFileSync(`/sys/class/net/${ifname}/ifindex`, 'utf8'));
const frame = Buffer.from(frameHex, 'hex');
// struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex }:
// the kernel requires data = 0 and data_end = frame length for a user-supplied context.
const ctx = Buffer.alloc(24);
ctx.writeUInt32LE(frame.length, 4);
ctx.writeUInt32LE(ifindex, 12);

const obj = BpfObject.load(objPath);
try {
  // The program copies its frame from map `tmpl` (64-byte value) on every run.
  const value = Buffer.alloc(64);
  frame.copy(value);
  obj.updateMap('tmpl', Buffer.alloc(4), value);
  const fd = obj.programFd('xdp_tx');
  const chunk = 65536;
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  process.stdout.write('started\n');
  while (Date.now() < end) {
    const r = testRun(fd, { data: frame, ctx, repeat: chunk, flags: BPF_F_TEST_XDP_LIVE_FRAMES, batchSize: 64 });
    if (r.rc !== 0) throw new Error(`bench: BPF_PROG_TEST_RUN (live frames) on ${ifname} failed: errno ${-r.rc}`);
    sent += chunk;
  }
  process.stdout.write(JSON.stringify({ sent }) + "\n");
} finally {
  obj.close();
}
