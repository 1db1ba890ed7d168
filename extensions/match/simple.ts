// Small matches the datapath cannot enforce, each as iptables prints and saves it:
// helper (libxt_helper.c), quota (libxt_quota.c), realm (libxt_realm.c), socket (libxt_socket.c),
// tcpmss (libxt_tcpmss.c), connmark (libxt_connmark.c), devgroup (libxt_devgroup.c),
// cgroup (libxt_cgroup.c), connlabel (libxt_connlabel.c).
import { KernelRejects, parameterProblem, XtablesError } from '../../parser/errors.ts';
import type { CompiledMatch } from '../../classifier/fields.ts';
import type { MatchModule } from '../types.ts';
import { kernelInvalid, saveString, strtoumax, x6Bad, x6Fcheck, x6Seen, x6Uint, x6UintRange } from '../lib.ts';
import { parseMarkMask } from '../target/MARK.ts';
import { markMaskText } from './mark.ts';

const no = (what: string) => (): CompiledMatch => ({ unsupported: what });

export interface HelperData {
  name: string;
  invert?: boolean;
  seen?: string[];
}
export const helper: MatchModule<HelperData> = {
  name: 'helper',
  options: [{ name: 'helper', args: 1, invertible: true }],
  init: () => ({ name: '' }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'helper', o, inv, true);
    d.name = a[0]!.slice(0, 29);
    if (inv) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('helper', [{ name: 'helper', mand: true }], d.seen),
  print: (d) => `helper match ${d.invert ? '! ' : ''}"${d.name}"`,
  save: (d) => `${d.invert ? '! ' : ''}--helper ${saveString(d.name)}`,
  compile: no('helper: the datapath has no conntrack helpers'),
};

export interface QuotaData {
  quota: string;
  invert?: boolean;
  seen?: string[];
}
export const quota: MatchModule<QuotaData> = {
  name: 'quota',
  options: [{ name: 'quota', args: 1, invertible: true }],
  init: () => ({ quota: '0' }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'quota', o, inv, true);
    const r = strtoumax(a[0]!, 0);
    if (!r || r.end !== a[0]!.length || r.value > 0xffffffffffffffffn) throw x6Bad('quota', 'quota', 0, 18446744073709551615n);
    d.quota = r.value.toString();
    if (inv) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('quota', [{ name: 'quota', mand: true }], d.seen),
  print: (d) => `quota: ${d.quota} bytes`,
  save: (d) => `${d.invert ? '! ' : ''}--quota ${d.quota}`,
  compile: (d) => ({ residual: [{ kind: 'quota', bytes: d.quota, invert: !!d.invert }] }),
};

export interface RealmData {
  id: number;
  mask: number;
  invert?: boolean;
  seen?: string[];
}
export const realm: MatchModule<RealmData> = {
  name: 'realm',
  options: [{ name: 'realm', args: 1, invertible: true }],
  init: () => ({ id: 0, mask: 0xffffffff }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'realm', o, inv, true);
    const s = a[0]!;
    const m = parseMarkMask('realm', 'realm', s, true);
    d.id = m.value;
    d.mask = m.mask;
    if (inv) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('realm', [{ name: 'realm', mand: true }], d.seen),
  print: (d) => `${d.invert ? '! ' : ''}realm ${markMaskText(d.id, d.mask)}`,
  save: (d) => `${d.invert ? '! ' : ''}--realm ${markMaskText(d.id, d.mask)}`,
  // realm_mt(): the route's tclassid (bpf/headers.h reads skb_dst(skb)->tclassid).
  compile: (d) => ({ residual: [{ kind: 'realm', id: d.id >>> 0, mask: d.mask >>> 0, invert: !!d.invert }] }),
};

export interface SocketData {
  flags: string[];
  seen?: string[];
}
const SOCKET_FLAGS = ['transparent', 'nowildcard', 'restore-skmark'];
export const socket: MatchModule<SocketData> = {
  name: 'socket',
  options: SOCKET_FLAGS.map((name) => ({ name, args: 0 as const, invertible: true })),
  init: () => ({ flags: [] }),
  parse(d, o, _a, inv) {
    x6Seen((d.seen ??= []), 'socket', o, inv, false);
    d.flags.push(o);
    return d;
  },
  print: (d) => ['socket', ...SOCKET_FLAGS.filter((f) => d.flags.includes(f)).map((f) => `--${f}`)].join(' '),
  save: (d) => SOCKET_FLAGS.filter((f) => d.flags.includes(f)).map((f) => `--${f}`).join(' '),
  compile: no('socket: the datapath does not look up local sockets'),
};

export interface TcpmssData {
  min: number;
  max: number;
  invert?: boolean;
  seen?: string[];
}
export const tcpmss: MatchModule<TcpmssData> = {
  name: 'tcpmss',
  options: [{ name: 'mss', args: 1, invertible: true }],
  init: () => ({ min: 0, max: 0 }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'tcpmss', o, inv, true);
    [d.min, d.max] = x6UintRange('tcpmss', 'mss', a[0]!, 65535);
    if (d.max < d.min) throw parameterProblem('tcpmss: invalid range given');
    if (inv) d.invert = true;
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('tcpmss', [{ name: 'mss', mand: true }], d.seen);
    if (ctx.proto?.proto !== 6 || ctx.proto.invert) throw kernelInvalid(ctx.chain);
  },
  print: (d) => `tcpmss match ${d.invert ? '!' : ''}${d.min === d.max ? d.min : `${d.min}:${d.max}`}`,
  save: (d) => `${d.invert ? '! ' : ''}--mss ${d.min === d.max ? d.min : `${d.min}:${d.max}`}`,
  // xt_tcpmss: any packet of the rule's -p tcp, fragments included (the kernel reads what follows
  // the IP header); a short header or truncated options hotdrop.
  compile: (d) => ({ residual: [{ kind: 'tcpmss', lo: d.min, hi: d.max, invert: !!d.invert }] }),
};

export interface ConnmarkData {
  mark: number;
  mask: number;
  invert?: boolean;
  seen?: string[];
}
export const connmark: MatchModule<ConnmarkData> = {
  name: 'connmark',
  options: [{ name: 'mark', args: 1, invertible: true }],
  init: () => ({ mark: 0, mask: 0xffffffff }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'connmark', o, inv, true);
    const m = parseMarkMask('connmark', 'mark', a[0]!);
    d.mark = m.value;
    d.mask = m.mask;
    if (inv) d.invert = true;
    return d;
  },
  finalCheck: (d) => x6Fcheck('connmark', [{ name: 'mark', mand: true }], d.seen),
  print: (d) => `connmark match ${d.invert ? '!' : ''} ${markMaskText(d.mark, d.mask)}`,
  save: (d) => `${d.invert ? '! ' : ''}--mark ${markMaskText(d.mark, d.mask)}`,
  compile: no('connmark: the datapath keeps no connection marks'),
};

export interface DevgroupData {
  src?: [number, number];
  srcInv?: boolean;
  dst?: [number, number];
  dstInv?: boolean;
  seen?: string[];
}
export const devgroup: MatchModule<DevgroupData> = {
  name: 'devgroup',
  options: [
    { name: 'src-group', args: 1, invertible: true },
    { name: 'dst-group', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'devgroup', o, inv, true);
    const m = parseMarkMask('devgroup', o, a[0]!, true);
    if (o === 'src-group') [d.src, d.srcInv] = [[m.value, m.mask], inv || undefined];
    else [d.dst, d.dstInv] = [[m.value, m.mask], inv || undefined];
    return d;
  },
  finalCheck(d, ctx) {
    if (!d.src && !d.dst) throw parameterProblem("devgroup match: You must specify either '--src-group' or '--dst-group'");
    // The kernel refuses an output device group before routing (INPUT has none).
    if (d.dst && (ctx.chain === 'INPUT' || ctx.chain === 'PREROUTING')) throw kernelInvalid(ctx.chain);
    if (d.src && (ctx.chain === 'OUTPUT' || ctx.chain === 'POSTROUTING')) throw kernelInvalid(ctx.chain);
  },
  print(d) {
    const p: string[] = [];
    if (d.src) p.push(`${d.srcInv ? '! ' : ''}src-group ${markMaskText(d.src[0], d.src[1])}`);
    if (d.dst) p.push(`${d.dstInv ? '! ' : ''}dst-group ${markMaskText(d.dst[0], d.dst[1])}`);
    return p.join(' ');
  },
  save(d) {
    const p: string[] = [];
    if (d.src) p.push(`${d.srcInv ? '! ' : ''}--src-group ${markMaskText(d.src[0], d.src[1])}`);
    if (d.dst) p.push(`${d.dstInv ? '! ' : ''}--dst-group ${markMaskText(d.dst[0], d.dst[1])}`);
    return p.join(' ');
  },
  compile: no('devgroup: the datapath does not see device groups'),
};

export interface CgroupData {
  classid?: number;
  path?: string;
  invert?: boolean;
  seen?: string[];
}
export const cgroup: MatchModule<CgroupData> = {
  name: 'cgroup',
  options: [
    { name: 'cgroup', args: 1, invertible: true },
    { name: 'path', args: 1, invertible: true },
  ],
  init: () => ({}),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'cgroup', o, inv, true);
    if (o === 'cgroup') d.classid = x6Uint('cgroup', 'cgroup', a[0]!, 0, 0xffffffff);
    else d.path = a[0]!;
    if (inv) d.invert = true;
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('cgroup', [{ name: 'cgroup', excl: ['path'] }, { name: 'path', excl: ['cgroup'] }], d.seen);
    if (d.classid === undefined && d.path === undefined) throw kernelInvalid(ctx.chain);
  },
  print: (d) => `cgroup ${d.invert ? '! ' : ''}${d.path ?? d.classid}`,
  save: (d) => `${d.invert ? '! ' : ''}${d.path !== undefined ? `--path "${d.path}"` : `--cgroup ${d.classid}`}`,
  compile: no('cgroup: the datapath does not see socket cgroups'),
};

export interface ConnlabelData {
  label: string;
  invert?: boolean;
  set?: boolean;
  seen?: string[];
}
export const connlabel: MatchModule<ConnlabelData> = {
  name: 'connlabel',
  options: [
    { name: 'label', args: 1, invertible: true },
    { name: 'set', args: 0, invertible: true },
  ],
  init: () => ({ label: '' }),
  parse(d, o, a, inv) {
    x6Seen((d.seen ??= []), 'connlabel', o, inv, o === 'label');
    if (o === 'label') {
      // connlabel_value_parse: strtoul(base 0) over the whole word, kept as an int; a word that
      // is no number is looked up in /etc/xtables/connlabel.conf, which this pure core cannot
      // read (and Debian does not ship): such a label is refused as iptables refuses an
      // unknown one.
      const v = a[0] !== '' ? strtoumax(a[0]!, 0) : undefined;
      const bit = v && v.end === a[0]!.length ? Number(BigInt.asIntN(32, v.value)) : -1;
      if (bit < 0)
        throw new XtablesError(`label '${a[0]}' not found or invalid value`, 2, {
          preface: 'Warning: cannot open /etc/xtables/connlabel.conf: No such file or directory\n',
        });
      d.label = String(bit);
      if (inv) d.invert = true;
    } else d.set = true;
    return d;
  },
  finalCheck(d, ctx) {
    x6Fcheck('connlabel', [{ name: 'label', mand: true }, { name: 'set' }], d.seen);
    // The kernel has 128 label bits.
    if (/^\d+$/.test(d.label) && Number(d.label) > 127) {
      throw new KernelRejects(ctx.chain, 'Numerical result out of range');
    }
  },
  print: (d) => `connlabel ${d.invert ? '! ' : ''}${d.label}${d.set ? ' set' : ''}`,
  save: (d) => `${d.invert ? '! ' : ''}--label "${d.label}"${d.set ? ' --set' : ''}`,
  compile: (d) => ({ residual: [{ kind: 'connlabel', bit: Number(d.label), set: !!d.set, invert: !!d.invert }] }),
};
