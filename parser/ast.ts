// The parsed form of one iptables command line (or one restore rule line): what apply() runs.
import type { Counters, Rule, TableName } from '../ruleset/types.ts';

export type CommandKind =
  | 'append' | 'check' | 'delete' | 'delete-num' | 'insert' | 'replace'
  | 'list' | 'list-rules' | 'flush' | 'zero' | 'zero-num'
  | 'new-chain' | 'delete-chain' | 'policy' | 'rename-chain';

export interface ListOptions {
  verbose: boolean;
  numeric: boolean;
  exact: boolean;
  lineNumbers: boolean;
}

export interface Command {
  kind: CommandKind;
  /** As typed after -t (validated against TABLE_NAMES by the caller, like nft does after parsing). */
  table: string;
  chain?: string;
  /** 1-based rule number (-I defaults to 1; -D n, -R n, -L/-S/-Z chain n). */
  rulenum?: number;
  newName?: string;
  policy?: string;
  /** Rule commands: one rule per source × destination address (iptables expands lists). */
  rules: Rule[];
  /** -c given on the command line. */
  counters?: Counters;
  /** -L / -S combined with -Z (zero after listing), and -Z's own rule number. */
  zero?: 'chain' | 'rule';
  list: ListOptions;
  /** -v given (count of -v). */
  verbose: number;
  /** -w: undefined none, -1 wait forever, else seconds. */
  wait?: number;
  /** -W usecs. */
  waitInterval?: number;
  /** Warnings iptables prints to stderr while parsing (printed even on success). */
  warnings: string[];
  /**
   * Rule commands: what a match's or target's KernelRejects said (the kernel would refuse the
   * rule at commit; apply reports it as the command's error).
   */
  kernelRejects?: { chain: string; errno: string };
}

/** What the command line asks for besides a Command. */
export type ParseResult =
  | { kind: 'command'; command: Command }
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  /** -4 in ip6tables-restore / -6 in iptables-restore: line is ignored. */
  | { kind: 'ignore' };

export type { TableName };
