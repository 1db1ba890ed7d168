// The pcn-iptables commands (Polycube's iptables front end) for people moving from it:
//   pcn-iptables            → the iptables command itself (bin/main.ts maps the name; same syntax)
//   pcn-iptables-init       → pcnIptablesInit():     empty ruleset (filter table, ACCEPT policies),
//                                                    datapath loaded and attached at INPUT/FORWARD/OUTPUT
//   pcn-iptables-init-xdp   → pcnIptablesInit({ xdp: true }): the same plus the XDP fast path (bpf/xdp.bpf.c)
//   pcn-iptables-clean      → pcnIptablesClean():    detach every program, remove every pin and the
//                                                    stored ruleset of this network namespace
// All act on the calling process's network namespace only (like iptables), under the xtables
// lock (blocking, as with -w). The loader and classifier are imported lazily so that merely
// loading this module (bin/main.ts does, for dispatch) costs nothing at start-up.
//
// Invariant: after pcnIptablesInit() the stored ruleset and the kernel agree: both are the
// empty filter table with ACCEPT policies and zeroed policy counters (ids 0..2, DESIGN.md).
// The datapath stays attached even though the ruleset is trivial (the state layer would
// normally detach a trivial one on its next commit; that is fine: an empty ACCEPT ruleset and
// no datapath give the same verdicts).
import { acquireLock } from '../state/lock.ts';
import { removeState, saveRuleset } from '../state/store.ts';
import { emptyTable, type Ruleset } from '../ruleset/types.ts';

export interface PcnOptions {
  /** Request the XDP fast path (pcn-iptables-init-xdp). */
  xdp?: boolean;
  /** Where notices go (default process.stderr). */
  warn?: (text: string) => void;
}


/** Policy counter slots of the filter table (DESIGN.md: INPUT=0, FORWARD=1, OUTPUT=2). */
const POLICY_COUNTER_IDS = [0, 1, 2];

function defaultWarn(text: string): void {
  process.stderr.write(text);
}

/** pcn-iptables-init / pcn-iptables-init-xdp. Throws XtablesError / KernelError on failure. */
export async function pcnIptablesInit(opts: PcnOptions = {}): Promise<void> {
  const warn = opts.warn ?? defaultWarn;
  await acquireLock(-1, undefined, warn);
  const [{ ensureDatapath }, { compileTable }, { xdpDrops }, { requestXdp }] = await Promise.all([
    import('../bpf/loader/api.ts'),
    import('../classifier/compile.ts'),
    import('../classifier/xdp.ts'),
    import('../state/bridge.ts'),
  ]);
  const filter = emptyTable('filter');
  // Filtering starts on all three hooks, so the base chains exist and count their policies.
  for (const c of filter.chains) c.base = 'counted';
  const spec = compileTable(filter);
  const dp = ensureDatapath();
  try {
    // The XDP fast path (bpf/xdp.bpf.c) drops at the driver what the head of INPUT / FORWARD
    // drops by source prefix; every later command keeps it (the request is in the state).
    if (opts.xdp) dp.enableXdp();
    else dp.disableXdp();
    requestXdp(!!opts.xdp);
    dp.commit(spec, POLICY_COUNTER_IDS.map((id) => ({ id, packets: 0n, bytes: 0n })), opts.xdp ? xdpDrops(filter) : undefined);
  } finally {
    dp.close();
  }
  const empty: Ruleset = { tables: { filter } };
  saveRuleset(empty);
}

/** pcn-iptables-clean. Safe to run when nothing is loaded. */
export async function pcnIptablesClean(opts: PcnOptions = {}): Promise<void> {
  const warn = opts.warn ?? defaultWarn;
  await acquireLock(-1, undefined, warn);
  const { openDatapath } = await import('../bpf/loader/api.ts');
  openDatapath()?.teardown();
  removeState();
}

/** The pcn-* program names and what each runs; bin/main.ts consults this for dispatch. */
export const PCN_COMMANDS: Readonly<Record<string, (opts?: PcnOptions) => Promise<void>>> = {
  'pcn-iptables-init': (o) => pcnIptablesInit({ ...o, xdp: false }),
  'pcn-iptables-init-xdp': (o) => pcnIptablesInit({ ...o, xdp: true }),
  'pcn-iptables-clean': (o) => pcnIptablesClean(o),
};
