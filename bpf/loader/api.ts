// The datapath interface the state layer calls (DESIGN.md contract). Everything that touches
// the kernel is behind these functions; see datapath.ts for the generation swap and
// encode.ts for the map layout.
//
// Usage by the state layer, per command that changes the filter table:
//   spec = compileTable(filter)
//   if (specIsTrivial(spec)) openDatapath()?.teardown()          // nothing attached, no pins
//   else ensureDatapath().commit(spec, counterWrites)              // atomic swap
// Listing: openDatapath()?.readCounters() (Map by counterId; absent = zero).
import { Datapath } from './datapath.ts';
import { netnsCookie as cookie } from './bpffs.ts';

export { Datapath, NF_PRIORITY, verifierStats } from './datapath.ts';
export type { CounterValue, DatapathOptions, VerifierStats, HookName, LogRecord, TestRunResult } from './datapath.ts';
export { specIsTrivial, encodeSpec, EncodeError } from './encode.ts';
export { KernelError } from './libbpf.ts';
export { pinDir, bpffsRoot } from './bpffs.ts';
export { formatLogRecord } from './logfmt.ts';

/** The calling thread's network namespace cookie (SO_NETNS_COOKIE). */
export function netnsCookie(): bigint {
  return cookie();
}

/** The datapath already pinned for this network namespace, if any. */
export function openDatapath(): Datapath | undefined {
  return Datapath.open();
}

/** Opens this namespace's datapath, or loads, pins and attaches (INPUT/FORWARD/OUTPUT) one. */
export function ensureDatapath(opts?: import('./datapath.ts').DatapathOptions): Datapath {
  return Datapath.ensure(opts);
}
