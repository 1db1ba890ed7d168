// The XDP fast path's share of the filter table (bpf/xdp.bpf.c): the rules at the head of
// INPUT and FORWARD that drop by source prefix alone.
//
// A packet that reaches INPUT (or FORWARD) and whose source lies in one of these prefixes is
// dropped by the first of them it matches whatever follows, and nothing before it in the chain
// can change that (every rule before is one of them). So an XDP program may drop it at the
// driver and count it on that rule, provided the packet would have reached the hook at all
// (the program checks that part: bpf/xdp.bpf.c).
//
// Head rule: target DROP; no -d, -i, -o, -p, -f, no -m other than comment; -s absent or a
// non-inverted contiguous prefix. The head ends at the first other rule. A chain made only of
// head rules (or of none) with policy DROP adds its policy as the last head "rule" (0.0.0.0/0,
// the policy's counter slot).
//
// LPM semantics: the kernel's longest-prefix lookup returns the longest stored prefix that
// contains the address, but the rule that wins is the FIRST head rule containing it. So each
// stored prefix carries the earliest rule among itself and every shorter stored prefix that
// contains it.
import type { Table, Rule } from '../ruleset/types.ts';

export interface XdpDrop {
  /** 0 INPUT, 1 FORWARD (the datapath's chain numbers). */
  chain: 0 | 1;
  /** Network address, host order, masked. */
  addr: number;
  plen: number;
  /** Counter slot of the rule (or policy) that drops. */
  counterId: number;
}

const CHAINS: ReadonlyArray<[string, 0 | 1]> = [
  ['INPUT', 0],
  ['FORWARD', 1],
];

function prefixLength(mask: number): number | undefined {
  const m = mask >>> 0;
  const inv = ~m >>> 0;
  if ((inv & (inv + 1)) !== 0) return undefined; // not contiguous
  let n = 0;
  for (let b = 31; b >= 0 && (m >>> b) & 1; b--) n++;
  return n;
}

/** The prefix a head rule drops, or undefined when the rule ends the head. */
function headPrefix(r: Rule): { addr: number; plen: number } | undefined {
  if (r.id === undefined) return undefined;
  if (r.target?.kind !== 'standard' || r.target.verdict !== 'DROP') return undefined;
  if (r.dst || r.inIface || r.outIface || r.proto || r.fragment) return undefined;
  if (r.matches.some((m) => m.name !== 'comment')) return undefined;
  if (!r.src) return { addr: 0, plen: 0 };
  if (r.src.invert) return undefined;
  const plen = prefixLength(r.src.mask);
  if (plen === undefined) return undefined;
  return { addr: (r.src.addr & r.src.mask) >>> 0, plen };
}

export function xdpDrops(filter: Table | undefined): XdpDrop[] {
  const out: XdpDrop[] = [];
  for (const [name, chain] of CHAINS) {
    const c = filter?.chains.find((x) => x.name === name);
    if (!c) continue;
    // order = position in the chain; the policy comes last.
    const head: Array<{ addr: number; plen: number; order: number; counterId: number }> = [];
    let whole = true;
    for (let i = 0; i < c.rules.length; i++) {
      const p = headPrefix(c.rules[i]!);
      if (!p) {
        whole = false;
        break;
      }
      head.push({ ...p, order: i, counterId: c.rules[i]!.id! });
    }
    if (whole && c.policy === 'DROP') head.push({ addr: 0, plen: 0, order: c.rules.length, counterId: chain });
    // Earliest rule per distinct prefix.
    const byPrefix = new Map<string, { addr: number; plen: number; order: number; counterId: number }>();
    for (const h of head) {
      const k = `${h.addr}/${h.plen}`;
      if (!byPrefix.has(k)) byPrefix.set(k, h);
    }
    // Each stored prefix inherits the earliest rule of its stored ancestors.
    for (const h of byPrefix.values()) {
      let best = h;
      for (let l = h.plen - 1; l >= 0; l--) {
        const a = l === 0 ? 0 : (h.addr & (~0 << (32 - l))) >>> 0;
        const anc = byPrefix.get(`${a}/${l}`);
        if (anc && anc.order < best.order) best = anc;
      }
      out.push({ chain, addr: h.addr, plen: h.plen, counterId: best.counterId });
    }
  }
  return out;
}

/** Reference: the counter slot of the first head rule of `chain` that drops `addr`, if any. */
export function xdpReference(filter: Table | undefined, chain: 0 | 1, addr: number): number | undefined {
  const c = filter?.chains.find((x) => x.name === CHAINS[chain]![0]);
  if (!c) return undefined;
  for (const r of c.rules) {
    const p = headPrefix(r);
    if (!p) return undefined;
    const m = p.plen === 0 ? 0 : (~0 << (32 - p.plen)) >>> 0;
    if (((addr & m) >>> 0) === p.addr) return r.id;
  }
  return c.policy === 'DROP' ? chain : undefined;
}

/** What the kernel's longest-prefix lookup over `drops` gives for `addr` (for tests). */
export function xdpLookup(drops: readonly XdpDrop[], chain: 0 | 1, addr: number): number | undefined {
  let best: XdpDrop | undefined;
  for (const d of drops) {
    if (d.chain !== chain) continue;
    const m = d.plen === 0 ? 0 : (~0 << (32 - d.plen)) >>> 0;
    if (((addr & m) >>> 0) === d.addr && (!best || d.plen > best.plen)) best = d;
  }
  return best?.counterId;
}
