// The contract every match and target module follows (modelled on iptables' libxt_*.c):
// a declarative option table that the generic parser uses for arity, inversion and
// "can only be used once" checks, then per-module parse / finalCheck / print (-L) / save (-S)
// and compile (to classifier field constraints + residual checks, or to a datapath action).
//
// Modules are pure: no I/O. Errors are thrown as XtablesError (parser/errors.ts) with
// iptables' exact wording.

import type { CompiledMatch } from '../classifier/fields.ts';
import type { ProtoMatch, Rule, TableName } from '../ruleset/types.ts';

export interface OptionSpec {
  /** Long option name without leading dashes, as iptables spells it in `save` ('dport'). */
  name: string;
  /** Other spellings accepted on input, without dashes ('destination-port'). */
  aliases?: string[];
  /**
   * argv words consumed after the option: 0, 1, 2 (e.g. --tcp-flags mask comp), or
   * 'optional' (one word if the next word exists and does not start with '-').
   */
  args: 0 | 1 | 2 | 'optional';
  /** Printed on stderr as soon as the option is seen, before its words are checked (libxt_set's --set deprecation). */
  warn?: string;
  /** args 2: the module's wording when the second word is missing (default "--name requires two args."). */
  missingSecond?: string;
  /** `! --opt` accepted; otherwise "cannot be inverted" style error from the module's wording. */
  invertible?: boolean;
  /**
   * May be given once per match instance; a repeat fails with the module's wording
   * (iptables: `multiple --dport flags not allowed`, `option "--x" can only be used once`, ...).
   */
  once?: boolean;
}

/** What a module sees of the rule being parsed. */
export interface ParseContext {
  table: TableName;
  /** Chain the command addresses (for hook-specific checks such as "Can't use -o with INPUT"). */
  chain: string;
  /** `-p` of the rule as parsed so far (tcp/udp matches check it in finalCheck). */
  proto?: ProtoMatch;
  /** The whole rule as parsed so far (read-only). */
  rule: Readonly<Rule>;
  /** Prints a warning to stderr as iptables does while parsing (e.g. time's --localtz). */
  warn?: (w: string) => void;
}

export interface PrintOptions {
  /** `-n`: numeric addresses and ports, no service / protocol names. */
  numeric: boolean;
}

export interface MatchModule<D = unknown> {
  /** As iptables names it: 'tcp', 'multiport', 'conntrack'. */
  name: string;
  /** Names that load the same module (e.g. none for most). */
  aliases?: string[];
  options: readonly OptionSpec[];
  /** Fresh per-instance data before any option is parsed. */
  init(ctx: ParseContext): D;
  /**
   * One option occurrence. `option` is the canonical OptionSpec.name, `args` the words it
   * consumed, `invert` whether `!` preceded it. Returns the new data (may mutate and return).
   */
  parse(data: D, option: string, args: string[], invert: boolean, ctx: ParseContext): D;
  /** After all options: required-option and consistency checks (xtables' x6_fcheck). */
  finalCheck?(data: D, ctx: ParseContext): void;
  /** `-L` text after the columns, without leading/trailing space (e.g. 'tcp dpt:80'). */
  print(data: D, opts: PrintOptions): string;
  /** `-S` / iptables-save text after `-m name ` (e.g. '--dport 80'); may be ''. */
  save(data: D): string;
  /** Structural equality for -D / -C by rule spec; default: deep equality of data. */
  equal?(a: D, b: D): boolean;
  /** Field constraints and residual checks; `unsupported` when the datapath cannot enforce. */
  compile(data: D, rule: Readonly<Rule>): CompiledMatch;
}

/** What the datapath does when a rule with this target matches. */
export type DatapathAction =
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'return' }
  | { kind: 'jump'; chain: string }
  | { kind: 'goto'; chain: string }
  /** Non-terminating: count (and side effects such as LOG / MARK) and go on with the next rule. */
  | { kind: 'next' }
  | { kind: 'reject'; with: RejectWith }
  | { kind: 'log'; level: number; prefix: string; flags: number }
  | { kind: 'mark'; value: number; mask: number }
  /** The datapath cannot do this; the CLI refuses the rule with this reason. */
  | { kind: 'unsupported'; reason: string };

export type RejectWith =
  | 'icmp-net-unreachable'
  | 'icmp-host-unreachable'
  | 'icmp-port-unreachable'
  | 'icmp-proto-unreachable'
  | 'icmp-net-prohibited'
  | 'icmp-host-prohibited'
  | 'icmp-admin-prohibited'
  | 'tcp-reset';

export interface TargetModule<D = unknown> {
  /** Upper-case as iptables names it: 'REJECT', 'LOG'. */
  name: string;
  options: readonly OptionSpec[];
  init(ctx: ParseContext): D;
  parse(data: D, option: string, args: string[], invert: boolean, ctx: ParseContext): D;
  finalCheck?(data: D, ctx: ParseContext): void;
  /** `-L` text after the columns (e.g. 'reject-with icmp-port-unreachable'); may be ''. */
  print(data: D, opts: PrintOptions): string;
  /** `-S` text after `-j NAME ` (e.g. '--reject-with icmp-port-unreachable'); may be ''. */
  save(data: D): string;
  equal?(a: D, b: D): boolean;
  /** Tables (and chains) the target is valid in; checked by the command layer. */
  tables?: readonly TableName[];
  compile(data: D, rule: Readonly<Rule>): DatapathAction;
}
