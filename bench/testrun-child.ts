// Run inside a namespace (`ip netns exec NS node --import tsx bench/testrun-child.ts <hex> <repeat> <rounds>`):
// opens that namespace's bpftables datapath through bpf/loader/api.ts and times its program
// with BPF_PROG_TEST_RUN at INPUT. Prints JSON { ns: number[], retval } or { error }.
import { openDatapath } from '../bpf/loader/api.ts';

const [hex, repeatArg, roundsArg] = process.argv.slice(2);
const pkt = Buffer.from(hex, 'hex');
try {
  const dp = openDatapath();
  if (!dp) throw new Error('no datapath pinned for this namespace (the ruleset did not load one)');
  try {
    const ns: number[] = [];
    let retval = -1;
    for (let i = 0; i < Number(roundsArg); i++) {
      const r = dp.testRun(pkt, 'INPUT', { repeat: Number(repeatArg) });
      ns.push(r.durationNs);
      retval = r.retval;
    }
    process.stdout.write(JSON.stringify({ ns, retval }));
  } finally {
    dp.close();
  }
} catch (e) {
  process.stdout.write(JSON.stringify({ error: (e as Error).message }));
}
