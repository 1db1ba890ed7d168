// policy match (libxt_policy.c): IPsec policy of the packet. Parsed, listed and saved like
// iptables; the datapath does not see IPsec policies, so rules using it are refused.
import { parameterProblem } from '../../parser/errors.ts';
import type { MatchModule } from '../types.ts';
import { formatIPv4, kernelInvalid, maskLength, unsupported, x6Fcheck, x6NoInvert, x6Seen, x6Uint } from '../lib.ts';
import { PROTO_BY_NUMBER, PROTO_NAMES } from '../protocols.ts';
import { parseHostMask, type HostMask } from './conntrack.ts';

/** XT_POLICY_MAX_ELEM */
const MAX_ELEM = 4;

interface PolicyElem {
  reqid?: number;
  reqidInv?: boolean;
  spi?: number;
  spiInv?: boolean;
  proto?: number;
  protoInv?: boolean;
  mode?: 'transport' | 'tunnel';
  modeInv?: boolean;
  dst?: HostMask;
  dstInv?: boolean;
  src?: HostMask;
  srcInv?: boolean;
}

export interface PolicyData {
  dir?: 'in' | 'out';
  pol?: 'ipsec' | 'none';
  strict?: boolean;
  elems: PolicyElem[];
  seen?: string[];
}

/** xtables_parse_protocol */
function parseProto(s: string): number {
  if (/^\d+$/.test(s) && Number(s) <= 255) return Number(s);
  if (s.toLowerCase() === 'all') return 0;
  const p = PROTO_NAMES.get(s.toLowerCase());
  if (p === undefined) throw parameterProblem(`unknown protocol "${s}" specified`);
  return p;
}

function hostText(h: HostMask): string {
  const len = maskLength(h.mask);
  return formatIPv4(h.addr) + (len === 32 ? '' : len >= 0 ? `/${len}` : `/${formatIPv4(h.mask)}`);
}

function elemText(e: PolicyElem, prefix: string, numeric: boolean): string {
  let s = '';
  const inv = (b: boolean | undefined): string => (b ? ' !' : '');
  if (e.reqid !== undefined) s += `${inv(e.reqidInv)} ${prefix}reqid ${e.reqid}`;
  if (e.spi !== undefined) s += `${inv(e.spiInv)} ${prefix}spi 0x${e.spi.toString(16)}`;
  if (e.proto !== undefined) s += `${inv(e.protoInv)} ${prefix}proto ${(numeric ? undefined : PROTO_BY_NUMBER.get(e.proto)) ?? e.proto}`;
  if (e.mode !== undefined) s += `${inv(e.modeInv)} ${prefix}mode ${e.mode}`;
  if (e.dst) s += `${inv(e.dstInv)} ${prefix}tunnel-dst ${hostText(e.dst)}`;
  if (e.src) s += `${inv(e.srcInv)} ${prefix}tunnel-src ${hostText(e.src)}`;
  return s;
}

function flagsText(d: PolicyData, prefix: string): string {
  return ` ${prefix}dir ${d.dir === 'in' ? 'in' : 'out'} ${prefix}pol ${d.pol === 'none' ? 'none' : 'ipsec'}${d.strict ? ` ${prefix}strict` : ''}`;
}

const MULTI = ['reqid', 'spi', 'tunnel-src', 'tunnel-dst', 'proto', 'mode', 'next'];

export const policy: MatchModule<PolicyData> = {
  name: 'policy',
  options: [
    { name: 'dir', args: 1, invertible: true },
    { name: 'pol', args: 1, invertible: true },
    { name: 'strict', args: 0, invertible: true },
    { name: 'reqid', args: 1, invertible: true },
    { name: 'spi', args: 1, invertible: true },
    { name: 'tunnel-src', args: 1, invertible: true },
    { name: 'tunnel-dst', args: 1, invertible: true },
    { name: 'proto', args: 1, invertible: true },
    { name: 'mode', args: 1, invertible: true },
    { name: 'next', args: 0, invertible: true },
  ],
  init: () => ({ elems: [{}] }),
  parse(d, o, a, inv) {
    d.seen ??= [];
    if (!MULTI.includes(o)) x6Seen(d.seen, 'policy', o, inv, false);
    else {
      if (inv && o === 'next') throw x6NoInvert('policy', o);
      if (!d.seen.includes(o)) d.seen.push(o);
    }
    const e = d.elems[d.elems.length - 1]!;
    const v = a[0]!;
    const double = (name: string): Error => parameterProblem(`policy match: double --${name} option`);
    const i = inv ? true : undefined;
    switch (o) {
      case 'dir':
        if (v !== 'in' && v !== 'out') throw parameterProblem(`policy_match: invalid dir "${v}"`);
        // Flags are OR-ed: a second --dir is caught by the x6 "only once" check above.
        d.dir = v;
        break;
      case 'pol':
        if (v !== 'none' && v !== 'ipsec') throw parameterProblem(`policy match: invalid policy "${v}"`);
        d.pol = v;
        break;
      case 'strict':
        d.strict = true;
        break;
      case 'reqid':
        if (e.reqid !== undefined) throw double('reqid');
        [e.reqid, e.reqidInv] = [x6Uint('policy', 'reqid', v, 0, 0xffffffff), i];
        break;
      case 'spi':
        if (e.spi !== undefined) throw double('spi');
        [e.spi, e.spiInv] = [x6Uint('policy', 'spi', v, 0, 0xffffffff), i];
        break;
      case 'tunnel-src':
        if (e.src) throw double('tunnel-src');
        [e.src, e.srcInv] = [parseHostMask(v), i];
        break;
      case 'tunnel-dst':
        if (e.dst) throw double('tunnel-dst');
        [e.dst, e.dstInv] = [parseHostMask(v), i];
        break;
      case 'proto': {
        if (e.proto !== undefined) throw double('proto');
        const p = parseProto(v);
        if (p !== 51 && p !== 50 && p !== 108) throw parameterProblem('policy match: protocol must be ah/esp/ipcomp');
        [e.proto, e.protoInv] = [p, i];
        break;
      }
      case 'mode':
        if (e.mode !== undefined) throw double('mode');
        if (v !== 'transport' && v !== 'tunnel') throw parameterProblem(`policy match: invalid mode "${v}"`);
        [e.mode, e.modeInv] = [v, i];
        break;
      default:
        if (d.elems.length === MAX_ELEM - 1) throw parameterProblem('policy match: maximum policy depth reached');
        d.elems.push({});
    }
    return d;
  },
  finalCheck(d, ctx) {
    if (d.dir === undefined) throw parameterProblem('policy match: neither --dir in nor --dir out specified');
    if (d.pol === 'none') {
      if (d.strict) throw parameterProblem('policy match: policy none but --strict given');
      if (d.elems.length > 1) throw parameterProblem('policy match: policy none but policy given');
    }
    // policy none keeps no element (info->len stays 0).
    const elems = d.pol === 'none' ? [] : d.elems;
    elems.forEach((e, i) => {
      if (d.strict && e.reqid === undefined && e.spi === undefined && !e.src && !e.dst && e.proto === undefined && e.mode === undefined)
        throw parameterProblem(
          `policy match: empty policy element ${i}. --strict is in effect, but at least one of reqid, spi, tunnel-src, tunnel-dst, proto or mode is required.`,
        );
      if ((e.src || e.dst) && ((e.mode === 'tunnel' && e.modeInv) || (e.mode === 'transport' && !e.modeInv) || e.mode === undefined))
        throw parameterProblem('policy match: --tunnel-src/--tunnel-dst is only valid in tunnel mode');
    });
    x6Fcheck('policy', [{ name: 'dir' }, { name: 'pol' }, { name: 'strict' }, { name: 'reqid' }, { name: 'spi' }, { name: 'proto' }, { name: 'mode' }, { name: 'tunnel-src' }, { name: 'tunnel-dst' }, { name: 'next', also: ['strict'] }], d.seen);
    // xt_policy: decapsulation policy only before routing / locally in, encapsulation after.
    if (d.dir === 'in' && (ctx.chain === 'OUTPUT' || ctx.chain === 'POSTROUTING')) throw kernelInvalid(ctx.chain);
    if (d.dir === 'out' && (ctx.chain === 'INPUT' || ctx.chain === 'PREROUTING')) throw kernelInvalid(ctx.chain);
  },
  print(d, o) {
    const elems = d.pol === 'none' ? [] : d.elems;
    return 'policy match' + flagsText(d, '') + elems.map((e, i) => (elems.length > 1 ? ` [${i}]` : '') + elemText(e, '', o.numeric)).join('');
  },
  save(d) {
    const elems = d.pol === 'none' ? [] : d.elems;
    return (flagsText(d, '--') + elems.map((e) => elemText(e, '--', false)).join(' --next')).trim();
  },
  compile: () => unsupported('policy: the datapath does not see IPsec policies'),
};
