// The ruleset model: plain data, shared by the parser (which builds it), the formatters
// (-L / -S / iptables-save), the classifier (which compiles it) and the state layer
// (which persists it as JSON per network namespace).
//
// Invariants:
// - Addresses are IPv4, held as unsigned 32-bit numbers in host order (1.2.3.4 = 0x01020304).
// - Counters are bigint (iptables counters are u64); the state layer serialises them as strings.
// - A Rule's `id` is its identity for counters: the kernel counter slot of the rule. It is
//   assigned by the state layer (never by the pure core) to rules that lack one, kept across
//   every edit that does not replace the rule, and is unique within a table.
// - Extension data (`MatchInstance.data`, `TargetInstance.data`) is JSON-safe plain data owned
//   by the extension module named in `name`; nothing else looks inside it.

export type TableName = 'filter' | 'nat' | 'mangle' | 'raw' | 'security';

export const TABLE_NAMES: readonly TableName[] = ['filter', 'nat', 'mangle', 'raw', 'security'];

/** Built-in chains of each table, in the order iptables lists them. */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export interface Counters {
  packets: bigint;
  bytes: bigint;
}

/** `-s` / `-d`: address and mask, both u32 host order; addr is already masked. */
export interface AddrMatch {
  addr: number;
  mask: number;
  invert: boolean;
}

/** `-i` / `-o`: name as typed; a trailing '+' is a prefix wildcard ('+' alone matches all). */
export interface IfaceMatch {
  name: string;
  invert: boolean;
}

/** `-p`: protocol number (0 = all). `name` keeps the spelling for nothing: output is canonical. */
export interface ProtoMatch {
  proto: number;
  invert: boolean;
}

/** One `-m name [options]`, or an implicit one (`-p tcp --dport 80` loads tcp). */
export interface MatchInstance {
  name: string;
  /** Extension-owned, JSON-safe. */
  data: unknown;
}

/**
 * What the rule does when it matches.
 * - standard verdicts ACCEPT / DROP / RETURN: `kind: 'standard'`
 * - `-j CHAIN` / `-g CHAIN`: `kind: 'jump'` / `kind: 'goto'`
 * - extension targets (REJECT, LOG, MARK, DNAT, ...): `kind: 'extension'` with `name` and data.
 * A rule with no `-j` has `target: undefined` (it only counts).
 */
export type TargetInstance =
  | { kind: 'standard'; verdict: 'ACCEPT' | 'DROP' | 'RETURN' }
  | { kind: 'jump'; chain: string }
  | { kind: 'goto'; chain: string }
  | { kind: 'extension'; name: string; data: unknown };

export interface Rule {
  /** Counter identity (see invariants). Undefined until the state layer assigns it. */
  id?: number;
  src?: AddrMatch;
  dst?: AddrMatch;
  inIface?: IfaceMatch;
  outIface?: IfaceMatch;
  proto?: ProtoMatch;
  /** `-f` / `! -f`: matches second and further fragments (or, inverted, unfragmented and first). */
  fragment?: { invert: boolean };
  matches: MatchInstance[];
  target?: TargetInstance;
  counters: Counters;
}

export type Policy = 'ACCEPT' | 'DROP';

export interface Chain {
  name: string;
  /** Present only on built-in chains. */
  policy?: Policy;
  /**
   * Built-in chains only: whether the chain exists in the kernel the way iptables-nft creates
   * base chains lazily. Absent (undefined): listed and saved as ACCEPT with zero counters, but
   * -Z / -D n / -X treat it as missing. 'plain': created by a rule command (-A / -I), its policy
   * counters stay at zero. 'counted': created or touched by -P, -Z, -L -Z or a restore chain
   * line, its policy counters count packets.
   */
  base?: 'plain' | 'counted';
  /** Policy counters (built-in chains only; user chains show references instead). */
  counters: Counters;
  rules: Rule[];
}

export interface Table {
  name: TableName;
  /** Built-in chains first in BUILTIN_CHAINS order, then user chains in creation order. */
  chains: Chain[];
}

/** Everything of one network namespace. Tables absent here are in their initial state. */
export interface Ruleset {
  tables: Partial<Record<TableName, Table>>;
}

export function zeroCounters(): Counters {
  return { packets: 0n, bytes: 0n };
}

export function emptyTable(name: TableName): Table {
  return {
    name,
    chains: BUILTIN_CHAINS[name].map((c) => ({ name: c, policy: 'ACCEPT' as Policy, counters: zeroCounters(), rules: [] })),
  };
}

export function isBuiltinChain(table: TableName, chain: string): boolean {
  return BUILTIN_CHAINS[table].includes(chain);
}

/** A chain that exists in the kernel: every user chain; a built-in chain once created. */
export function chainExists(c: Chain): boolean {
  return c.policy === undefined || c.base !== undefined;
}

/** Whether the chain's policy counters count packets (iptables-nft: only counted base chains). */
export function policyCounted(c: Chain): boolean {
  return c.policy !== undefined && c.base === 'counted';
}
