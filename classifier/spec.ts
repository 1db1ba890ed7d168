// TableSpec: the classifier's output for one table, plain deterministic data (same input, same
// spec, on every machine). The BPF encoder (bpf/loader/encode.ts) turns it into map contents;
// nothing downstream re-derives rule semantics.
//
// Rule index space: all chains of the table share one global index space. Chain c owns
// indices [firstRule, endRule); every chain's firstRule is a multiple of 64 so that one
// 64-bit bitvector word never spans two chains (padding indices belong to no chain and are
// never set in any vector). Within a chain, rule order is index order.
//
// Per field, packets are mapped to a class; the class names the set of rules *constraining
// that field* that accept the packet's key. Rules that do not constrain the field are in the
// field's `wildcard` set. A rule matches a packet on field f iff it is in wildcard(f) or in
// classes(f)[class(f, key)]. A field no rule constrains is omitted (`undefined`): the datapath
// skips it.

import type { DatapathAction } from '../extensions/types.ts';
import type { FieldName, Prefix, ResidualCheck } from './fields.ts';

export type SpecAction =
  | Exclude<DatapathAction, { kind: 'jump' } | { kind: 'goto' } | { kind: 'unsupported' }>
  | { kind: 'jump'; chain: number }
  | { kind: 'goto'; chain: number };

export interface ChainSpec {
  name: string;
  firstRule: number;
  /** Exclusive. */
  endRule: number;
  /** Built-in chains only. */
  policy?: 'ACCEPT' | 'DROP';
  /** Counter slot of the policy (built-in chains); -1 for user chains. */
  counterId: number;
}

export interface RuleSpec {
  /** Kernel counter slot (the model Rule.id). */
  counterId: number;
  action: SpecAction;
  /** All must pass, after the rule won on the bitvectors. */
  residual: ResidualCheck[];
}

interface FieldSpecBase {
  /** Sorted rule indices that do not constrain this field. */
  wildcard: Uint32Array;
  /** classes[c]: sorted rule indices (constraining this field) accepting keys of class c. */
  classes: Uint32Array[];
}

/** src, dst: longest-prefix match; the entries always include 0.0.0.0/0. */
export interface PrefixFieldSpec extends FieldSpecBase {
  kind: 'lpm';
  entries: Array<{ prefix: Prefix; cls: number }>;
}

/**
 * iif, oif: longest-prefix match over the name's bytes. An exact name ('eth0') is an entry of
 * the name plus its NUL terminator ((len + 1) * 8 bits); a wildcard 'eth+' is the bytes 'eth'
 * (24 bits); '+' is the empty prefix. The entries always include the empty prefix.
 */
export interface IfaceFieldSpec extends FieldSpecBase {
  kind: 'iface';
  entries: Array<{ name: string; exact: boolean; cls: number }>;
}

/** proto, sport, dport, tcpflags, ctstate: key → class for every key of FIELD_DOMAIN. */
export interface ArrayFieldSpec extends FieldSpecBase {
  kind: 'array';
  keyToClass: Uint32Array;
}

export type FieldSpec = PrefixFieldSpec | IfaceFieldSpec | ArrayFieldSpec;

export interface TableSpec {
  /** Size of the rule index space (a multiple of 64, ≥ 64). */
  nrules: number;
  /** chains[0..2] are INPUT, FORWARD, OUTPUT (filter); user chains follow. */
  chains: ChainSpec[];
  /** By rule index; null for padding. */
  rules: Array<RuleSpec | null>;
  fields: Partial<Record<FieldName, FieldSpec>>;
}
