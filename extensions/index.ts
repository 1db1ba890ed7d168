// Explicit registry of every match and target module (no filesystem discovery).
// Lookup is by the name iptables uses: lower-case matches, upper-case targets.
//
// Option tables: `invertible: true` means the front end passes `!` through to the module's
// parse(), which throws iptables' own wording when that option cannot be inverted; repeats
// are detected by the modules (wording differs per module), so `once` is left unset.
import type { MatchModule, TargetModule } from './types.ts';
import { tcp } from './match/tcp.ts';
import { udp } from './match/udp.ts';
import { icmp } from './match/icmp.ts';
import { multiport } from './match/multiport.ts';
import { iprange } from './match/iprange.ts';
import { conntrack, state } from './match/conntrack.ts';
import { comment } from './match/comment.ts';
import { mac } from './match/mac.ts';
import { limit } from './match/limit.ts';
import { length } from './match/length.ts';
import { ttl } from './match/ttl.ts';
import { mark } from './match/mark.ts';
import { pkttype } from './match/pkttype.ts';
import { statistic } from './match/statistic.ts';
import { addrtype } from './match/addrtype.ts';
import { recent } from './match/recent.ts';
import { set } from './match/set.ts';
import { owner } from './match/owner.ts';
import { cpu } from './match/cpu.ts';
import { dscp } from './match/dscp.ts';
import { tos } from './match/tos.ts';
import { ecn } from './match/ecn.ts';
import { ah, esp, ipcomp } from './match/spi.ts';
import { cgroup, connlabel, connmark, devgroup, helper, quota, realm, socket, tcpmss } from './match/simple.ts';
import { connlimit } from './match/connlimit.ts';
import { physdev } from './match/physdev.ts';
import { string } from './match/string.ts';
import { connbytes } from './match/connbytes.ts';
import { dccp } from './match/dccp.ts';
import { sctp } from './match/sctp.ts';
import { policy } from './match/policy.ts';
import { osf } from './match/osf.ts';
import { nfacct } from './match/nfacct.ts';
import { bpf } from './match/bpf.ts';
import { hashlimit } from './match/hashlimit.ts';
import { time } from './match/time.ts';
import { u32 } from './match/u32.ts';
import { REJECT } from './target/REJECT.ts';
import { LOG } from './target/LOG.ts';
import { MARK } from './target/MARK.ts';
import { HMARK } from './target/HMARK.ts';
import { SYNPROXY } from './target/SYNPROXY.ts';
import { RATEEST } from './target/RATEEST.ts';
import { DNAT, MASQUERADE, REDIRECT, SNAT } from './target/nat.ts';
import { AUDIT, CHECKSUM, CLASSIFY, CONNMARK, CT, DSCP, ECN, IDLETIMER, NETMAP, NFLOG, NFQUEUE, NOTRACK, SET, TCPMSS, TEE, TOS, TRACE, TTL } from './target/misc.ts';

const matchList: MatchModule<any>[] = [tcp, udp, icmp, multiport, iprange, conntrack, state, comment, mac, limit, length, ttl, mark, addrtype, pkttype, recent, statistic, set, owner,
  cpu, dscp, tos, ecn, esp, ah, ipcomp, helper, quota, realm, socket, tcpmss, connmark, devgroup, cgroup, connlabel,
  connlimit, physdev, string, connbytes, dccp, hashlimit, time, sctp, policy, osf, nfacct, bpf, u32];
const targetList: TargetModule<any>[] = [
  REJECT, LOG, MARK, DNAT, SNAT, MASQUERADE, REDIRECT,
  NFLOG, NFQUEUE, CONNMARK, AUDIT, CLASSIFY, TRACE, NOTRACK, CT, TCPMSS, TOS, DSCP, CHECKSUM, TTL, ECN, IDLETIMER, TEE, NETMAP, SET, HMARK, SYNPROXY, RATEEST,
];

// Rule identity for -D / -C: modules without their own `equal` compare their canonical save
// text (what iptables-nft compares is the kernel form, which save reproduces), so bookkeeping
// such as the order options were given in never makes two equal rules differ.
for (const m of [...matchList, ...targetList] as Array<MatchModule<any> | TargetModule<any>>) {
  if (!m.equal) m.equal = (a: unknown, b: unknown) => m.save(a) === m.save(b);
}

export const MATCHES: ReadonlyMap<string, MatchModule<any>> = new Map<string, MatchModule<any>>(
  matchList.flatMap((m) => [[m.name, m] as [string, MatchModule<any>], ...(m.aliases ?? []).map((a) => [a, m] as [string, MatchModule<any>])]),
);

export const TARGETS: ReadonlyMap<string, TargetModule<any>> = new Map<string, TargetModule<any>>(targetList.map((t) => [t.name, t]));

export function findMatch(name: string): MatchModule<any> | undefined {
  return MATCHES.get(name);
}

export function findTarget(name: string): TargetModule<any> | undefined {
  return TARGETS.get(name);
}
