// The plain linear reference matcher: iptables' ipt_do_table() over the MODEL, one rule at a
// time, written independently of compile.ts / classes.ts / lookup.ts so that property tests
// can hold the compiled LBVS tables against it.
//
// - Base part straight from the model, as ip_packet_match() does: (addr & mask) == rule addr,
//   interface name vs pattern ('eth+' prefix, '+' all), protocol (0 = any, even with `!`),
//   -f on non-first fragments; each XOR its `!`.
// - Matches in order through their module's CompiledMatch, evaluated directly: prefix
//   containment, ranges, interface patterns, residual cmp / either; limit / random / nth via an
//   injectable oracle (the same ResidualOracle the datapath model takes).
// - Targets: ACCEPT / DROP / REJECT end; RETURN and falling off a user chain return to the
//   caller (or, with an empty stack, the hook's policy counts and decides); -j pushes, -g does
//   not; rules without a verdict (no -j, LOG, MARK) count and continue; MARK rewrites the mark.
import type { DatapathAction, RejectWith } from '../extensions/types.ts';
import type { Chain, Rule, Table } from '../ruleset/types.ts';
import { defaultResidualOracle, type Hook, type ResidualOracle } from './lookup.ts';
import type { ModuleLookup } from './compile.ts';
import { findMatch, findTarget } from '../extensions/index.ts';
import type { CompiledMatch, FieldConstraint, FieldName, OwnerCheck, PacketKey, ResidualCheck } from './fields.ts';
import { headerCheck, isHeaderCheck } from './headers.ts';

export interface ReferenceResult {
  verdict: 'ACCEPT' | 'DROP';
  reject?: RejectWith;
  /** Rule ids (Rule.id) that counted the packet, in order. */
  matched: number[];
  /** Name of the built-in chain whose policy counted the packet. */
  policyCounted?: string;
  /** A match hotdropped the packet (verdict DROP, that rule uncounted). */
  hotdrop?: boolean;
}

export interface ReferenceOptions {
  lookup?: ModuleLookup;
  residual?: ResidualOracle;
}

function maskOf(len: number): number {
  let m = 0;
  for (let i = 0; i < len; i++) m = (m | (1 << (31 - i))) >>> 0;
  return m;
}

function ifaceMatches(pattern: string, name: string): boolean {
  if (pattern.endsWith('+')) return name.startsWith(pattern.slice(0, -1));
  return name === pattern;
}

function fieldKey(f: FieldName, p: PacketKey): number | string {
  switch (f) {
    case 'proto':
      return (p.nonFirstFragment ? 256 : 0) + p.proto;
    default:
      return p[f];
  }
}

function constraintHolds(c: FieldConstraint, key: number | string): boolean {
  let hit = false;
  switch (c.kind) {
    case 'prefixes':
      hit = c.prefixes.some((p) => ((key as number) & maskOf(p.len)) >>> 0 === (p.addr & maskOf(p.len)) >>> 0);
      break;
    case 'ranges':
      hit = c.ranges.some(([lo, hi]) => (key as number) >= lo && (key as number) <= hi);
      break;
    case 'iface':
      hit = ifaceMatches(c.pattern, key as string);
      break;
  }
  return hit !== c.invert;
}

/** owner_mt() of net/netfilter/xt_owner.c, option by option. */
function ownerMatch(o: OwnerCheck, p: PacketKey): boolean {
  const s = p.sock;
  if (!s) {
    // Matches only when every option given is inverted (--suppl-groups never is).
    return !o.suppl && (!o.uid || !!o.uidInv) && (!o.gid || !!o.gidInv) && (!o.socket || !!o.socketInv);
  }
  if (o.socket && o.socketInv) return false;
  if (!s.file) return (!o.uid || !!o.uidInv) && (!o.gid || !!o.gidInv);
  if (o.uid) {
    const inside = s.uid >= o.uid[0] && s.uid <= o.uid[1];
    if (inside !== !o.uidInv) return false;
  }
  if (o.gid) {
    const within = (g: number) => g >= o.gid![0] && g <= o.gid![1];
    const inside = within(s.gid) || (!!o.suppl && s.groups.some(within));
    if (inside !== !o.gidInv) return false;
  }
  return true;
}

function residualHolds(id: number, c: ResidualCheck, p: PacketKey, oracle: ResidualOracle): boolean | 'hotdrop' {
  let hit: boolean;
  if (isHeaderCheck(c)) {
    const h = headerCheck(c, p);
    return h === 'hotdrop' ? h : h !== c.invert;
  }
  const inAny = (v: number, rs: Array<[number, number]>) => rs.some(([lo, hi]) => v >= lo && v <= hi);
  switch (c.kind) {
    case 'cmp': {
      const v =
        c.field === 'saddr'
          ? p.src
          : c.field === 'daddr'
            ? p.dst
            : c.field === 'l4proto'
              ? p.proto
              : c.field === 'protokey'
                ? (p.nonFirstFragment ? 256 : 0) + p.proto
                : p[c.field];
      hit = inAny((v & c.mask) >>> 0, c.ranges);
      break;
    }
    case 'either':
      hit = inAny(p.sport, c.ranges) || inAny(p.dport, c.ranges);
      break;
    case 'addrtype': {
      // xt_addrtype: match_type(net, dev, addr, mask); dev = in / out device or none.
      const facts = p.addrtype ?? { src: 1, dst: 1 };
      const dev = c.dev === 'in' ? p.iif : c.dev === 'out' ? p.oif : '';
      const routeDev = c.addr === 'src' ? facts.srcDev : facts.dstDev;
      const type = dev !== '' && routeDev !== undefined && routeDev !== dev ? 1 : c.addr === 'src' ? facts.src : facts.dst;
      hit = (c.types & (1 << type)) !== 0;
      break;
    }
    case 'mac':
      // xt_mac: without an Ethernet header the match is false before its `!` is applied.
      if (p.mac === undefined) return false;
      hit = p.mac === c.mac;
      break;
    case 'owner':
      return ownerMatch(c.owner, p);
    case 'ct': {
      if (!p.ct) return c.untracked;
      const c2 = p.ct;
      const v = { proto: c2.proto, origsrc: c2.origSrc, origdst: c2.origDst, replsrc: c2.origDst, repldst: c2.origSrc, origsrcport: c2.origSport, origdstport: c2.origDport, replsrcport: c2.replSport, repldstport: c2.replDport, dir: c2.reply ? 1 : 0, status: c2.status ?? 0, expire: c2.expire ?? 0 }[c.field];
      hit = inAny((v & c.mask) >>> 0, c.ranges);
      break;
    }
    default:
      hit = oracle(id, c, p);
  }
  return hit !== c.invert;
}

function compiledMatchHolds(id: number, cm: CompiledMatch, p: PacketKey, oracle: ResidualOracle): boolean | 'hotdrop' {
  for (const [f, c] of Object.entries(cm.fields ?? {}) as Array<[FieldName, FieldConstraint | undefined]>) {
    if (c && !constraintHolds(c, fieldKey(f, p))) return false;
  }
  for (const r of cm.residual ?? []) {
    const h = residualHolds(id, r, p, oracle);
    if (h !== true) return h;
  }
  return true;
}

function baseHolds(r: Rule, p: PacketKey): boolean {
  if (r.src && ((p.src & r.src.mask) >>> 0 === (r.src.addr & r.src.mask) >>> 0) === r.src.invert) return false;
  if (r.dst && ((p.dst & r.dst.mask) >>> 0 === (r.dst.addr & r.dst.mask) >>> 0) === r.dst.invert) return false;
  if (r.inIface && ifaceMatches(r.inIface.name, p.iif) === r.inIface.invert) return false;
  if (r.outIface && ifaceMatches(r.outIface.name, p.oif) === r.outIface.invert) return false;
  if (r.proto && r.proto.proto !== 0 && (p.proto === r.proto.proto) === r.proto.invert) return false;
  if (r.fragment && p.nonFirstFragment === r.fragment.invert) return false;
  return true;
}

function actionOf(r: Rule, lookup: ModuleLookup): DatapathAction {
  const t = r.target;
  if (!t) return { kind: 'next' };
  if (t.kind === 'standard') return { kind: t.verdict === 'ACCEPT' ? 'accept' : t.verdict === 'DROP' ? 'drop' : 'return' };
  if (t.kind === 'jump' || t.kind === 'goto') return { kind: t.kind, chain: t.chain };
  const mod = lookup.findTarget(t.name);
  if (!mod) throw new Error(`reference: unknown target ${t.name}`);
  return mod.compile(t.data, r);
}

export function referenceClassify(table: Table, hook: Hook, pkt0: PacketKey, opts: ReferenceOptions = {}): ReferenceResult {
  const lookup = opts.lookup ?? { findMatch, findTarget };
  const oracle = opts.residual ?? defaultResidualOracle;
  const p: PacketKey = { ...pkt0 };
  const chains = new Map<string, Chain>(table.chains.map((c) => [c.name, c]));
  const hookChain = chains.get(hook);
  const matched: number[] = [];
  const policy = (): ReferenceResult => ({ verdict: hookChain?.policy ?? 'ACCEPT', matched, policyCounted: hook });
  if (!hookChain) return policy();

  const stack: Array<{ chain: Chain; next: number }> = [];
  let chain = hookChain;
  let i = 0;
  for (;;) {
    if (i >= chain.rules.length) {
      const f = stack.pop();
      if (!f) return policy();
      chain = f.chain;
      i = f.next;
      continue;
    }
    const r = chain.rules[i];
    let ok: boolean | 'hotdrop' = baseHolds(r, p);
    for (let m = 0; ok === true && m < r.matches.length; m++) {
      const mod = lookup.findMatch(r.matches[m].name);
      if (!mod) throw new Error(`reference: unknown match ${r.matches[m].name}`);
      ok = compiledMatchHolds(r.id ?? -1, mod.compile(r.matches[m].data, r), p, oracle);
    }
    // nft_compat: a hotdrop ends the walk with NF_DROP before the rule's counter.
    if (ok === 'hotdrop') return { verdict: 'DROP', matched, hotdrop: true };
    if (!ok) {
      i++;
      continue;
    }
    matched.push(r.id ?? -1);
    const a = actionOf(r, lookup);
    switch (a.kind) {
      case 'accept':
        return { verdict: 'ACCEPT', matched };
      case 'drop':
        return { verdict: 'DROP', matched };
      case 'reject':
        return { verdict: 'DROP', reject: a.with, matched };
      case 'return': {
        const f = stack.pop();
        if (!f) return policy();
        chain = f.chain;
        i = f.next;
        break;
      }
      case 'jump':
      case 'goto': {
        const target = chains.get(a.chain);
        if (!target) throw new Error(`reference: no chain ${a.chain}`);
        if (a.kind === 'jump') stack.push({ chain, next: i + 1 });
        chain = target;
        i = 0;
        break;
      }
      case 'mark':
        p.mark = ((p.mark & ~a.mask) ^ a.value) >>> 0;
        i++;
        break;
      case 'next':
      case 'log':
        i++;
        break;
      case 'unsupported':
        throw new Error(`reference: unsupported target: ${a.reason}`);
    }
  }
}
