// Output of -L, -S and iptables-save, ported from iptables 1.8.9 (xshared.c print_header,
// print_rule_details, print_ifaces, print_ipv4_addresses; nft-ipv4.c save; nft-shared.c
// save_matches_and_target). Pure: the save header's date and host-name lookups come in as
// arguments.
import { findMatch, findTarget } from '../extensions/index.ts';
import { ipToString, maskToNumeric, maskToSave, protoName } from '../parser/addr.ts';
import type { Chain, Counters, Rule, Ruleset, Table, TableName } from './types.ts';
import { BUILTIN_CHAINS, emptyTable } from './types.ts';

// Format flags of xshared.h.
export const FMT_NUMERIC = 0x0001;
export const FMT_NOCOUNTS = 0x0002;
export const FMT_KILOMEGAGIGA = 0x0004;
export const FMT_OPTIONS = 0x0008;
export const FMT_NOTABLE = 0x0010;
export const FMT_NOTARGET = 0x0020;
export const FMT_VIA = 0x0040;
export const FMT_NONEWLINE = 0x0080;
export const FMT_LINENUMBERS = 0x0100;
export const FMT_PRINT_RULE = FMT_NOCOUNTS | FMT_OPTIONS | FMT_VIA | FMT_NUMERIC | FMT_NOTABLE;

export interface FormatEnv {
  /** Reverse lookup for -L without -n (xtables_ipaddr_to_anyname); undefined → numeric. */
  hostName?: (addr: number) => string | undefined;
}

const padEnd = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const padStart = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

/** FMT(tab, notab): the table form unless FMT_NOTABLE. */
function fmt(format: number, width: number, left: boolean, s: string): string {
  if (format & FMT_NOTABLE) return s + ' ';
  return (left ? padEnd(s, width) : padStart(s, width)) + ' ';
}

/** xtables_print_num. */
export function formatNum(n: bigint, format: number): string {
  if (!(format & FMT_KILOMEGAGIGA)) return fmt(format, 8, false, n.toString());
  if (n <= 99999n) return fmt(format, 5, false, n.toString());
  const units = ['K', 'M', 'G'];
  // xtables_print_num rounds in uint64_t: near 2^64 the `+ 500` wraps ("0K").
  const U64 = (1n << 64n) - 1n;
  for (const u of units) {
    n = ((n + 500n) & U64) / 1000n;
    if (n <= 9999n) return format & FMT_NOTABLE ? `${n}${u} ` : `${padStart(n.toString(), 4)}${u} `;
  }
  n = ((n + 500n) & U64) / 1000n;
  return format & FMT_NOTABLE ? `${n}T ` : `${padStart(n.toString(), 4)}T `;
}

export function listFormat(o: { verbose: boolean; numeric: boolean; exact: boolean; lineNumbers: boolean }): number {
  let format = FMT_OPTIONS;
  if (!o.verbose) format |= FMT_NOCOUNTS;
  else format |= FMT_VIA;
  if (o.numeric) format |= FMT_NUMERIC;
  if (!o.exact) format |= FMT_KILOMEGAGIGA;
  if (o.lineNumbers) format |= FMT_LINENUMBERS;
  return format;
}

export function formatHeader(format: number, chain: string, policy: string | undefined, counters: Counters, refs: number): string {
  let s = `Chain ${chain}`;
  if (policy !== undefined) {
    s += ` (policy ${policy}`;
    if (!(format & FMT_NOCOUNTS)) {
      s += ' ' + formatNum(counters.packets, format | FMT_NOTABLE) + 'packets, ' + formatNum(counters.bytes, format | FMT_NOTABLE) + 'bytes';
    }
    s += ')\n';
  } else s += ` (${refs} references)\n`;
  if (format & FMT_LINENUMBERS) s += fmt(format, 4, true, 'num');
  if (!(format & FMT_NOCOUNTS)) {
    if (format & FMT_KILOMEGAGIGA) s += fmt(format, 5, false, 'pkts') + fmt(format, 5, false, 'bytes');
    else s += fmt(format, 8, false, 'pkts') + fmt(format, 10, false, 'bytes');
  }
  if (!(format & FMT_NOTARGET)) s += fmt(format, 9, true, 'target');
  s += ' prot ';
  if (format & FMT_OPTIONS) s += 'opt';
  if (format & FMT_VIA) s += format & FMT_NOTABLE ? 'in out  ' : ` ${padEnd('in', 6)} ${padEnd('out', 6)} `;
  s += format & FMT_NOTABLE ? 'source ' : ` ${padEnd('source', 19)} `;
  s += format & FMT_NOTABLE ? ' destination ' : ` ${padEnd('destination', 19)} `;
  return s + '\n';
}

/** Name shown in -L's target column. */
export function targetLabel(rule: Rule): string {
  const t = rule.target;
  if (!t) return '';
  switch (t.kind) {
    case 'standard':
      return t.verdict;
    case 'jump':
    case 'goto':
      return t.chain;
    case 'extension':
      return t.name;
  }
}

function addrText(a: Rule['src'], format: number, env: FormatEnv): string {
  const addr = a?.addr ?? 0;
  const mask = a?.mask ?? 0;
  if (mask === 0 && !(format & FMT_NUMERIC)) return 'anywhere';
  let buf: string;
  if (format & FMT_NUMERIC) buf = ipToString(addr);
  else buf = env.hostName?.(addr) ?? ipToString(addr);
  return buf + maskToNumeric(mask);
}

/** One -L row (nft_ipv4_print_rule), with trailing newline unless FMT_NONEWLINE. */
export function formatRuleRow(rule: Rule, num: number, format: number, env: FormatEnv = {}): string {
  let s = '';
  if (format & FMT_LINENUMBERS) s += fmt(format, 4, true, String(num));
  if (!(format & FMT_NOCOUNTS)) s += formatNum(rule.counters.packets, format) + formatNum(rule.counters.bytes, format);
  if (!(format & FMT_NOTARGET)) s += fmt(format, 9, true, targetLabel(rule));
  const proto = rule.proto?.proto ?? 0;
  s += rule.proto?.invert ? '!' : ' ';
  // iptables-nft 1.8.9 prints numbers under -L -n but names in the one-line -v echo of a rule.
  const pname = format & FMT_NUMERIC && !(format & FMT_NOTABLE) ? undefined : protoName(proto);
  // printf(FMT("%-4s ", "%s ")): a name longer than 4 still gets its space ("ipencap --").
  s += format & FMT_NOTABLE ? `${pname ?? proto} ` : padEnd(pname ?? String(proto), 4) + ' ';
  if (format & FMT_OPTIONS) {
    if (format & FMT_NOTABLE) s += 'opt ';
    s += rule.fragment?.invert ? '!' : '-';
    s += rule.fragment ? 'f' : '-';
    s += ' ';
  }
  if (format & FMT_VIA) {
    const any = format & FMT_NUMERIC ? '*' : 'any';
    const inn = (rule.inIface?.invert ? '!' : '') + (rule.inIface?.name || any);
    const out = (rule.outIface?.invert ? '!' : '') + (rule.outIface?.name || any);
    s += format & FMT_NOTABLE ? `in ${inn} out ${out} ` : ` ${padEnd(inn, 6)} ${padEnd(out, 6)} `;
  }
  s += rule.src?.invert ? '!' : ' ';
  s += fmt(format, 19, true, addrText(rule.src, format, env));
  s += rule.dst?.invert ? '!' : ' ';
  const dst = addrText(rule.dst, format, env);
  s += format & FMT_NOTABLE ? `-> ${dst}` : padEnd(dst, 19) + ' ';
  if (format & FMT_NOTABLE) s += '  ';
  if (rule.target?.kind === 'goto') s += '[goto] ';
  const popts = { numeric: (format & FMT_NUMERIC) !== 0 };
  for (const m of rule.matches) {
    const mod = findMatch(m.name);
    const text = mod ? mod.print(m.data, popts) : '';
    if (text) s += ' ' + text;
  }
  if (rule.target?.kind === 'extension') {
    const mod = findTarget(rule.target.name);
    const text = mod ? mod.print(rule.target.data, popts) : '';
    if (text) s += ' ' + text;
  }
  if (!(format & FMT_NONEWLINE)) s += '\n';
  return s;
}

/** Rule specification as -S / iptables-save print it, without "-A CHAIN" and without newline. */
export function formatRuleSpec(rule: Rule, counters: 'none' | 'inline'): string {
  let s = '';
  const addr = (letter: string, a: Rule['src']): void => {
    if (!a || (a.mask === 0 && !a.invert && a.addr === 0)) return;
    s += `${a.invert ? ' !' : ''} -${letter} ${ipToString(a.addr)}/${maskToSave(a.mask)}`;
  };
  addr('s', rule.src);
  addr('d', rule.dst);
  const iface = (letter: string, i: Rule['inIface']): void => {
    if (!i || i.name === '' || (i.name === '+' && !i.invert)) return;
    s += `${i.invert ? ' !' : ''} -${letter} ${i.name}`;
  };
  iface('i', rule.inIface);
  iface('o', rule.outIface);
  if (rule.proto && rule.proto.proto > 0) {
    if (rule.proto.invert) s += ' !';
    const pname = protoName(rule.proto.proto);
    s += pname ? ` -p ${pname}` : ` -p ${rule.proto.proto}`;
  }
  if (rule.fragment) s += rule.fragment.invert ? ' ! -f' : ' -f';
  for (const m of rule.matches) {
    s += ` -m ${m.name}`;
    const mod = findMatch(m.name);
    const text = mod ? mod.save(m.data) : '';
    if (text) s += ' ' + text;
  }
  if (counters === 'inline') s += ` -c ${rule.counters.packets} ${rule.counters.bytes}`;
  const t = rule.target;
  if (t) {
    switch (t.kind) {
      case 'standard':
        s += ` -j ${t.verdict}`;
        break;
      case 'jump':
        s += ` -j ${t.chain}`;
        break;
      case 'goto':
        s += ` -g ${t.chain}`;
        break;
      case 'extension': {
        s += ` -j ${t.name}`;
        const mod = findTarget(t.name);
        const text = mod ? mod.save(t.data) : '';
        if (text) s += ' ' + text;
        break;
      }
    }
  }
  return s;
}

/** Chains in listing order: built-ins in iptables' order, then user chains sorted (strcmp). */
export function chainsInOrder(table: Table): Chain[] {
  const builtins = BUILTIN_CHAINS[table.name];
  const b: Chain[] = [];
  const u: Chain[] = [];
  for (const c of table.chains) (c.policy !== undefined && builtins.includes(c.name) ? b : u).push(c);
  b.sort((x, y) => builtins.indexOf(x.name) - builtins.indexOf(y.name));
  u.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return b.concat(u);
}

/** Number of rules in the table that jump or go to each chain. */
export function referenceCounts(table: Table): Map<string, number> {
  const refs = new Map<string, number>();
  for (const c of table.chains)
    for (const r of c.rules) {
      const t = r.target;
      if (t && (t.kind === 'jump' || t.kind === 'goto')) refs.set(t.chain, (refs.get(t.chain) ?? 0) + 1);
    }
  return refs;
}

/** -L [chain [rulenum]]. The chain must exist (checked by the caller). */
export function formatList(table: Table, chain: string | undefined, rulenum: number | undefined, format: number, env: FormatEnv = {}): string {
  const refs = referenceCounts(table);
  const out: string[] = [];
  let first = true;
  for (const c of chainsInOrder(table)) {
    if (chain !== undefined && c.name !== chain) continue;
    if (rulenum) {
      const r = c.rules[rulenum - 1];
      if (r) out.push(formatRuleRow(r, rulenum, format, env));
      continue;
    }
    if (!first) out.push('\n');
    first = false;
    out.push(formatHeader(format, c.name, c.policy, c.counters, refs.get(c.name) ?? 0));
    for (let i = 0; i < c.rules.length; i++) out.push(formatRuleRow(c.rules[i]!, i + 1, format, env));
  }
  return out.join('');
}

/** -S [chain [rulenum]] (with -v: counters). */
export function formatListRules(table: Table, chain: string | undefined, rulenum: number | undefined, verbose: boolean): string {
  const out: string[] = [];
  const chains = chainsInOrder(table).filter((c) => chain === undefined || c.name === chain);
  const cnt = verbose ? 'inline' : 'none';
  if (rulenum) {
    const c = chains[0];
    const r = c?.rules[rulenum - 1];
    if (c && r) out.push(`-A ${c.name}${formatRuleSpec(r, cnt)}\n`);
    return out.join('');
  }
  for (const c of chains) {
    if (c.policy !== undefined) {
      out.push(`-P ${c.name} ${c.policy}${verbose ? ` -c ${c.counters.packets} ${c.counters.bytes}` : ''}\n`);
    } else out.push(`-N ${c.name}\n`);
  }
  for (const c of chains) for (const r of c.rules) out.push(`-A ${c.name}${formatRuleSpec(r, cnt)}\n`);
  return out.join('');
}

/** Order in which iptables-nft-save prints tables. */
export const SAVE_TABLE_ORDER: readonly TableName[] = ['mangle', 'security', 'raw', 'filter', 'nat'];

/** iptables-save output for the tables that exist (or only `only`). `date` is ctime-like. */
export function formatSave(ruleset: Ruleset, opts: { counters: boolean; table?: TableName; date: string }): string {
  const out: string[] = [];
  for (const name of SAVE_TABLE_ORDER) {
    if (opts.table !== undefined && opts.table !== name) continue;
    // An explicit -t table is printed even when never touched (iptables-nft-save does).
    const table = ruleset.tables[name] ?? (opts.table === name ? emptyTable(name) : undefined);
    if (!table) continue;
    out.push(`# Generated by iptables-save v1.8.9 (nf_tables) on ${opts.date}\n*${name}\n`);
    const chains = chainsInOrder(table);
    for (const c of chains) out.push(`:${c.name} ${c.policy ?? '-'} [${c.counters.packets}:${c.counters.bytes}]\n`);
    for (const c of chains)
      for (const r of c.rules) {
        const prefix = opts.counters ? `[${r.counters.packets}:${r.counters.bytes}] ` : '';
        out.push(`${prefix}-A ${c.name}${formatRuleSpec(r, 'none')}\n`);
      }
    out.push(`COMMIT\n# Completed on ${opts.date}\n`);
  }
  return out.join('');
}

export function tableOrEmpty(ruleset: Ruleset, name: TableName): Table {
  return ruleset.tables[name] ?? emptyTable(name);
}
