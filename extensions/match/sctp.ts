// sctp match (libxt_sctp.c, old-style option parser): ports reach the classifier (the datapath
// reads SCTP ports like tcp/udp ones); --chunk-types is a residual check walking the chunks as
// xt_sctp does (classifier/headers.ts, bpf/headers.h), after the ports as in sctp_mt().
import { parameterProblem } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, strtouiFull } from '../lib.ts';
import { portFields } from './tcp.ts';

/** sctp_chunk_names[]: name, chunk type, valid flag letters (bit 7 first). Index order matters. */
const CHUNKS: ReadonlyArray<readonly [string, number, string]> = [
  ['DATA', 0, '----IUBE'], ['INIT', 1, '--------'], ['INIT_ACK', 2, '--------'], ['SACK', 3, '--------'],
  ['HEARTBEAT', 4, '--------'], ['HEARTBEAT_ACK', 5, '--------'], ['ABORT', 6, '-------T'], ['SHUTDOWN', 7, '--------'],
  ['SHUTDOWN_ACK', 8, '--------'], ['ERROR', 9, '--------'], ['COOKIE_ECHO', 10, '--------'], ['COOKIE_ACK', 11, '--------'],
  ['ECN_ECNE', 12, '--------'], ['ECN_CWR', 13, '--------'], ['SHUTDOWN_COMPLETE', 14, '-------T'], ['I_DATA', 64, '----IUBE'],
  ['RE_CONFIG', 130, '--------'], ['PAD', 132, '--------'], ['ASCONF', 193, '--------'], ['ASCONF_ACK', 128, '--------'],
  ['FORWARD_TSN', 192, '--------'], ['I_FORWARD_TSN', 194, '--------'],
];

/** getservbyname / getservbyport for "sctp": Debian's /etc/services has one sctp entry. */
const SCTP_SERVICES: ReadonlyMap<string, number> = new Map([['amqp', 5672]]);
/** XT_NUM_SCTP_FLAGS */
const MAX_FLAG_INFO = 4;

export interface SctpData {
  spts?: [number, number];
  spInv?: boolean;
  dpts?: [number, number];
  dpInv?: boolean;
  chunks?: {
    type: 'any' | 'all' | 'only';
    /** Chunk types set in the chunk map (sorted). */
    map: number[];
    /**
     * flag_info[]: libxt_sctp keys each entry by the chunk's index in its name table (not its
     * type number) and prints it beside the chunk whose type equals that key; kept as it does.
     */
    flags: Array<{ chunktype: number; flag: number; mask: number }>;
    inv?: boolean;
  };
}

function parsePort(s: string): number {
  const n = strtouiFull(s, 0, 65535);
  if (n !== undefined) return n;
  const p = SCTP_SERVICES.get(s);
  if (p !== undefined) return p;
  throw parameterProblem(`invalid port/service \`${s}' specified`);
}

function parsePorts(s: string): [number, number] {
  const i = s.indexOf(':');
  if (i < 0) {
    const p = parsePort(s);
    return [p, p];
  }
  const a = s.slice(0, i);
  const b = s.slice(i + 1);
  const lo = a !== '' ? parsePort(a) : 0;
  const hi = b !== '' ? parsePort(b) : 0xffff;
  if (lo > hi) throw parameterProblem('invalid portrange (min > max)');
  return [lo, hi];
}

function parseChunks(matchType: string, list: string): NonNullable<SctpData['chunks']> {
  const t = matchType.toLowerCase();
  if (t !== 'any' && t !== 'all' && t !== 'only') throw parameterProblem('Match type has to be one of "ALL", "ANY" or "ONLY"');
  const out: NonNullable<SctpData['chunks']> = { type: t, map: [], flags: [] };
  const up = list.toUpperCase();
  if (up === 'ALL') {
    out.map = Array.from({ length: 256 }, (_, i) => i);
    return out;
  }
  if (up === 'NONE') return out;
  const set = new Set<number>();
  // strtok(buffer, ","): empty tokens are skipped.
  for (const tok of list.split(',').filter((x) => x !== '')) {
    const colon = tok.indexOf(':');
    const name = colon < 0 ? tok : tok.slice(0, colon);
    const flags = colon < 0 ? undefined : tok.slice(colon + 1);
    const i = CHUNKS.findIndex(([n]) => n === name.toUpperCase());
    if (i < 0) throw parameterProblem(`Unknown sctp chunk \`${name}'`);
    set.add(CHUNKS[i]![1]);
    for (const ch of flags ?? '') {
      const p = CHUNKS[i]![2].indexOf(ch.toUpperCase());
      if (p < 0) throw parameterProblem(`Invalid flags for chunk type ${i}`);
      const bit = 7 - p;
      const isSet = ch !== ch.toLowerCase();
      let e = out.flags.find((f) => f.chunktype === i);
      if (!e) {
        if (out.flags.length === MAX_FLAG_INFO)
          throw parameterProblem(
            'Number of chunk types with flags exceeds currently allowed limit. Increasing this limit involves changing IPT_NUM_SCTP_FLAGS and recompiling both the kernel space and user space modules',
          );
        e = { chunktype: i, flag: 0, mask: 0 };
        out.flags.push(e);
      }
      e.mask |= 1 << bit;
      if (isSet) e.flag |= 1 << bit;
    }
  }
  out.map = [...set].sort((a, b) => a - b);
  return out;
}

function chunksText(c: NonNullable<SctpData['chunks']>, numeric: boolean): string {
  let s = ` ${c.type}`;
  if (c.map.length === 0) return s + ' NONE';
  if (c.map.length === 256) return s + ' ALL';
  const parts = c.map.map((type) => {
    let p = numeric ? `0x${type.toString(16).toUpperCase().padStart(4, '0')}` : (CHUNKS.find(([, t]) => t === type)?.[0] ?? '');
    for (const f of c.flags) {
      if (f.chunktype !== type || !f.mask) continue;
      const valid = CHUNKS[type]?.[2] ?? '--------';
      p += ':';
      for (let i = 7; i >= 0; i--) {
        if (!(f.mask & (1 << i))) continue;
        const letter = valid[7 - i]!;
        p += f.flag & (1 << i) ? letter : letter.toLowerCase();
      }
    }
    return p;
  });
  return s + ' ' + parts.join(',');
}

function printPorts(name: string, r: [number, number] | undefined, inv: boolean | undefined, numeric: boolean): string {
  if (!r || (r[0] === 0 && r[1] === 0xffff && !inv)) return '';
  const svc = (p: number): string => (numeric ? undefined : [...SCTP_SERVICES].find(([, v]) => v === p)?.[0]) ?? String(p);
  const i = inv ? '!' : '';
  return r[0] === r[1] ? ` ${name}:${i}${svc(r[0])}` : ` ${name}s:${i}${svc(r[0])}:${svc(r[1])}`;
}

function savePorts(name: string, r: [number, number] | undefined, inv: boolean | undefined): string {
  if (!r) return '';
  return `${inv ? ' !' : ''} --${name} ${r[0] === r[1] ? r[0] : `${r[0]}:${r[1]}`}`;
}

export const sctp: MatchModule<SctpData> = {
  name: 'sctp',
  options: [
    { name: 'sport', aliases: ['source-port'], args: 1, invertible: true },
    { name: 'dport', aliases: ['destination-port'], args: 1, invertible: true },
    { name: 'chunk-types', args: 2, invertible: true, missingSecond: '--chunk-types requires two args' },
  ],
  init: () => ({}),
  parse(d, o, a, inv) {
    const i = inv ? true : undefined;
    if (o === 'sport') {
      if (d.spts) throw parameterProblem("Only one `--source-port' allowed");
      [d.spts, d.spInv] = [parsePorts(a[0]!), i];
    } else if (o === 'dport') {
      if (d.dpts) throw parameterProblem("Only one `--destination-port' allowed");
      [d.dpts, d.dpInv] = [parsePorts(a[0]!), i];
    } else {
      if (d.chunks) throw parameterProblem("Only one `--chunk-types' allowed");
      d.chunks = parseChunks(a[0]!, a[1]!);
      if (inv) d.chunks.inv = true;
    }
    return d;
  },
  finalCheck(_d, ctx) {
    if (ctx.proto?.proto !== 132 || ctx.proto.invert) throw kernelInvalid(ctx.chain);
  },
  print(d, o) {
    let s = 'sctp' + printPorts('spt', d.spts, d.spInv, o.numeric) + printPorts('dpt', d.dpts, d.dpInv, o.numeric);
    if (d.chunks) s += (d.chunks.inv ? ' !' : '') + chunksText(d.chunks, o.numeric);
    return s;
  },
  save(d) {
    let s = savePorts('sport', d.spts, d.spInv) + savePorts('dport', d.dpts, d.dpInv);
    if (d.chunks) s += `${d.chunks.inv ? ' !' : ''} --chunk-types${chunksText(d.chunks, false)}`;
    return s.trim();
  },
  compile(d): CompiledMatch {
    const fields = { proto: { kind: 'ranges' as const, ranges: [[132, 132]] as Array<[number, number]>, invert: false }, ...portFields(d.spts, d.spInv, d.dpts, d.dpInv) };
    if (!d.chunks) return { fields };
    // The kernel's flag_info[].chunktype is what libxt_sctp stored (the chunk's index in its
    // name table) and is compared with the chunk's type as such; kept so.
    const c = d.chunks;
    return { fields, residual: [{ kind: 'sctpchunks', type: c.type, map: [...c.map], flags: c.flags.map((f) => ({ ...f })), invert: !!c.inv }] };
  },
};
