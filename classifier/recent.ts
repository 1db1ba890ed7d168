// The recent match's state (xt_recent) as a pure model: what bpf/recent.h keeps per network
// namespace, for the reference matcher, classifySpec and the property tests. No clock: the
// caller passes the time (ns) of each evaluation.
//
// Semantics as recent_mt() in net/netfilter/xt_recent.c (kernel 6.x), with the module's
// defaults: at most LIST_TOT (ip_list_tot = 100) addresses per list, the least recently
// stamped evicted for a new one; NSTAMPS (roundup_pow_of_two(ip_pkt_list_tot = 20) = 32) time
// stamps per address in a ring. Lists are shared by name across rules; a new ruleset keeps the
// lists it still names (retain) and loses the others, as the kernel frees a table with the
// last rule that names it.
import { defaultResidualOracle, type Hook, type ResidualOracle } from './lookup.ts';
import type { PacketKey, ResidualCheck } from './fields.ts';

export const RECENT_LIST_TOT = 100;
export const RECENT_NSTAMPS = 32;

type RecentCheck = Extract<ResidualCheck, { kind: 'recent' }>;

interface Entry {
  ttl: number;
  stamps: number[];
  index: number;
  nstamps: number;
}

export class RecentLists {
  /** name -> (masked address -> entry); Map order is the LRU order (oldest first). */
  readonly lists = new Map<string, Map<number, Entry>>();

  /** The match's result before `!`; applies its side effects. now: ns. */
  evaluate(c: RecentCheck, p: PacketKey, hook: Hook, now: number): boolean {
    let list = this.lists.get(c.name);
    if (!list) {
      list = new Map();
      this.lists.set(c.name, list);
    }
    const addr = ((c.side === 'dest' ? p.dst : p.src) & c.mask) >>> 0;
    // The kernel adds one where there is an out device and no socket: FORWARD.
    const ttl = hook === 'FORWARD' ? (p.ttl + 1) & 0xff : p.ttl & 0xff;
    let e = list.get(addr);
    if (e && c.rttl && ttl !== 0 && e.ttl !== 0 && e.ttl !== ttl) e = undefined;
    if (!e) {
      if (c.cmd !== 'set') return false;
      if (list.size >= RECENT_LIST_TOT) list.delete(list.keys().next().value!);
      const n: Entry = { ttl, stamps: new Array(RECENT_NSTAMPS).fill(0), index: 0, nstamps: 0 };
      stamp(n, now, ttl);
      list.set(addr, n);
      return true;
    }
    let hit = false;
    if (c.cmd === 'set') {
      hit = true;
    } else if (c.cmd === 'remove') {
      list.delete(addr);
      return true;
    } else {
      const from = Math.max(0, now - c.seconds * 1e9);
      let hits = 0;
      for (let i = 0; i < e.nstamps; i++) {
        if (c.seconds && e.stamps[i] < from) continue;
        if (!c.hitcount || ++hits >= c.hitcount) {
          hit = true;
          break;
        }
      }
      if (c.reap) {
        const update = c.cmd === 'update' && hit !== c.invert;
        const [oldAddr, old] = list.entries().next().value!;
        const last = old.stamps[(old.index - 1) & (RECENT_NSTAMPS - 1)];
        if (!(old === e && update) && last < from) {
          list.delete(oldAddr);
          if (old === e) return hit;
        }
      }
    }
    if (c.cmd === 'set' || (c.cmd === 'update' && hit !== c.invert)) {
      stamp(e, now, ttl);
      list.delete(addr);
      list.set(addr, e);
    }
    return hit;
  }

  /** A ruleset swap: keeps the lists `names` still names, forgets the others. */
  retain(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const n of [...this.lists.keys()]) if (!keep.has(n)) this.lists.delete(n);
  }

  /** Addresses in a list, oldest first (tests). */
  addresses(name: string): number[] {
    return [...(this.lists.get(name)?.keys() ?? [])];
  }
}

function stamp(e: Entry, now: number, ttl: number): void {
  const i = e.index & (RECENT_NSTAMPS - 1);
  e.stamps[i] = now;
  e.index = i + 1;
  if (e.index > e.nstamps) e.nstamps = e.index;
  e.ttl = ttl;
}

/** The recent list names a set of residual-check lists uses (for retain()). */
export function recentNamesOf(checks: Iterable<readonly ResidualCheck[]>): string[] {
  const out = new Set<string>();
  for (const list of checks) for (const c of list) if (c.kind === 'recent') out.add(c.name);
  return [...out];
}

/**
 * A ResidualOracle that evaluates recent checks against `lists` at time `now` (ns) for a packet
 * at `hook`, and leaves the other stateful checks to `others`.
 */
export function recentOracle(lists: RecentLists, hook: Hook, now: number, others: ResidualOracle = defaultResidualOracle): ResidualOracle {
  return (id, c, p) => (c.kind === 'recent' ? lists.evaluate(c, p, hook, now) : others(id, c, p));
}
