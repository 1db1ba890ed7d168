// The iptables 1.8.9 command-line grammar (xshared.c do_parse), driven by a getopt_long
// emulation over argv words (never re-joined into a string). The same function parses restore
// rule lines (restore: true), as iptables-restore does.
//
// Invariants kept from iptables:
// - Option lookup order: base options first, then the most recently loaded extension's options,
//   then older ones (xtables_options_xfrm); unique prefixes are accepted (getopt_long), prefixes
//   matching entries with different meaning are ambiguous and reported as unknown options.
// - An unknown option with `-p` given loads the protocol's match once and retries (load_proto).
// - Error checks run in iptables' order, so the first error reported is the same.
import type { MatchModule, OptionSpec, ParseContext, TargetModule } from '../extensions/types.ts';
import { findMatch, findTarget } from '../extensions/index.ts';
import type { Counters, MatchInstance, Rule, TargetInstance } from '../ruleset/types.ts';
import type { Command, CommandKind, ParseResult } from './ast.ts';
import { checkInterface, parseAddresses, parseProtocol, protoMatchName, strtoui, type AddrMask } from './addr.ts';
import { KernelRejects, parameterProblem, XtablesError } from './errors.ts';
import { helpText } from './help.ts';
import { MATCH_HELP, STANDARD_TARGET_HELP, TARGET_HELP } from '../extensions/help.ts';

export const VERSION = '1.8.9 (nf_tables)';
export const XT_EXTENSION_MAXNAMELEN = 29;

/**
 * Errors iptables reports through exit_tryhelp without the "prog vX: " prefix: an optional
 * message line (e.g. "Bad argument `x'") then the try-help line.
 */
export class TryHelpError extends XtablesError {
  constructor(message: string) {
    super(message, 2);
  }
}

// Command bits in iptables' order (CMD_INSERT = 1 << 0 ...).
const CMD_INSERT = 1 << 0;
const CMD_DELETE = 1 << 1;
const CMD_DELETE_NUM = 1 << 2;
const CMD_REPLACE = 1 << 3;
const CMD_APPEND = 1 << 4;
const CMD_LIST = 1 << 5;
const CMD_FLUSH = 1 << 6;
const CMD_ZERO = 1 << 7;
const CMD_NEW_CHAIN = 1 << 8;
const CMD_DELETE_CHAIN = 1 << 9;
const CMD_SET_POLICY = 1 << 10;
const CMD_RENAME_CHAIN = 1 << 11;
const CMD_LIST_RULES = 1 << 12;
const CMD_ZERO_NUM = 1 << 13;
const CMD_CHECK = 1 << 14;
const CMDFLAGS = 'IDDRALFZNXPESZC';

function cmd2char(option: number): string {
  let i = 0;
  while (option > 1) {
    option >>>= 1;
    i++;
  }
  return CMDFLAGS[i]!;
}

// Option bits (OPT_NUMERIC = 1 << 0 ...), with optflags and the inversion table.
const OPT_NUMERIC = 1 << 0;
const OPT_SOURCE = 1 << 1;
const OPT_DESTINATION = 1 << 2;
const OPT_PROTOCOL = 1 << 3;
const OPT_JUMP = 1 << 4;
const OPT_VERBOSE = 1 << 5;
const OPT_EXPANDED = 1 << 6;
const OPT_VIANAMEIN = 1 << 7;
const OPT_VIANAMEOUT = 1 << 8;
const OPT_LINENUMBERS = 1 << 9;
const OPT_COUNTERS = 1 << 10;
const OPT_FRAGMENT = 1 << 11;
const OPTFLAGS = 'nsdpjvxio0cf';
const INVERTIBLE = [false, true, true, true, false, false, false, true, true, false, false, true];
const NUMBER_OF_OPT = 12;

// commands_v_options of xshared.c: 'x' illegal, ' ' allowed.
const COMMANDS_V_OPTIONS: readonly string[] = [
  /*     -n  -s  -d  -p  -j  -v  -x  -i  -o --line -c -f */
  /*INSERT*/ 'x     x  x  ',
  /*DELETE*/ 'x     x  xx ',
  /*DELETE_NUM*/ 'xxxxx xxxxxx',
  /*REPLACE*/ 'x     x  x  ',
  /*APPEND*/ 'x     x  x  ',
  /*LIST*/ ' xxxx  xx xx',
  /*FLUSH*/ 'xxxxx xxxxxx',
  /*ZERO*/ 'xxxxx xxxxxx',
  /*NEW_CHAIN*/ 'xxxxx xxxxxx',
  /*DEL_CHAIN*/ 'xxxxx xxxxxx',
  /*SET_POLICY*/ 'xxxxx xxxx x',
  /*RENAME*/ 'xxxxx xxxxxx',
  /*LIST_RULES*/ 'xxxxx xxxxxx',
  /*ZERO_NUM*/ 'xxxxx xxxxxx',
  /*CHECK*/ 'x     x  xx ',
];

function optIndex(option: number): number {
  let i = 0;
  while (1 << i !== option) i++;
  return i;
}

/** Short options and their arity (0 none, 1 required, 2 optional), as in iptables' optstring. */
const SHORT: ReadonlyMap<string, 0 | 1 | 2> = new Map<string, 0 | 1 | 2>([
  ['A', 1], ['C', 1], ['D', 1], ['R', 1], ['I', 1], ['L', 2], ['S', 2], ['M', 1], ['F', 2], ['Z', 2],
  ['N', 1], ['X', 2], ['E', 1], ['P', 1], ['V', 0], ['h', 2], ['o', 1], ['p', 1], ['s', 1], ['d', 1],
  ['j', 1], ['i', 1], ['f', 0], ['b', 0], ['v', 0], ['w', 2], ['W', 2], ['n', 0], ['t', 1], ['m', 1],
  ['x', 0], ['c', 1], ['g', 1], ['4', 0], ['6', 0],
]);

/** The (never mutated) OptVal of each short option, shared by every parse. */
const SHORT_VAL: ReadonlyMap<string, OptVal> = new Map([...SHORT.keys()].map((c): [string, OptVal] => [c, { kind: 'base', c }]));

interface ExtSlot {
  kind: 'match' | 'target';
  module: MatchModule<any> | TargetModule<any>;
  data: unknown;
  seen: Set<string>;
  completed: boolean;
}

type OptVal = { kind: 'base'; c: string } | { kind: 'ext'; slot: ExtSlot; spec: OptionSpec };

interface LongOpt {
  name: string;
  hasArg: 0 | 1 | 2;
  val: OptVal;
}

const BASE_LONG: readonly LongOpt[] = (
  [
    ['append', 1, 'A'], ['delete', 1, 'D'], ['check', 1, 'C'], ['insert', 1, 'I'], ['replace', 1, 'R'],
    ['list', 2, 'L'], ['list-rules', 2, 'S'], ['flush', 2, 'F'], ['zero', 2, 'Z'], ['new-chain', 1, 'N'],
    ['delete-chain', 2, 'X'], ['rename-chain', 1, 'E'], ['policy', 1, 'P'], ['source', 1, 's'],
    ['destination', 1, 'd'], ['src', 1, 's'], ['dst', 1, 'd'], ['protocol', 1, 'p'], ['in-interface', 1, 'i'],
    ['jump', 1, 'j'], ['table', 1, 't'], ['match', 1, 'm'], ['numeric', 0, 'n'], ['out-interface', 1, 'o'],
    ['verbose', 0, 'v'], ['wait', 2, 'w'], ['wait-interval', 2, 'W'], ['exact', 0, 'x'], ['fragments', 0, 'f'],
    ['version', 0, 'V'], ['help', 2, 'h'], ['line-numbers', 0, '0'], ['modprobe', 1, 'M'],
    ['set-counters', 1, 'c'], ['goto', 1, 'g'], ['ipv4', 0, '4'], ['ipv6', 0, '6'],
  ] as const
).map(([name, hasArg, c]) => ({ name, hasArg, val: { kind: 'base', c } }));

function sameVal(a: OptVal, b: OptVal): boolean {
  if (a.kind === 'base' && b.kind === 'base') return a.c === b.c;
  if (a.kind === 'ext' && b.kind === 'ext') return a.slot === b.slot && a.spec === b.spec;
  return false;
}

type GetoptResult =
  | { t: 'end' }
  | { t: 'nonopt'; arg: string }
  | { t: 'opt'; val: OptVal; optarg: string | undefined }
  /**
   * '?': unknown or ambiguous option, or `--opt=value` for an option without argument. iptables
   * names argv[optind-1] in its message, not the option (see optindWord).
   */
  | { t: 'unknown' }
  /** ':': missing required argument. */
  | { t: 'missing' };

/**
 * glibc getopt_long's state machine. `nextchar` is glibc's __nextchar: a position inside some word
 * of a short-option cluster, kept apart from `optind` (glibc advances optind when it starts on the
 * cluster's last character, and iptables' load_proto rewinds with a bare `optind--`, which leaves
 * __nextchar where it was; the rescan that follows depends on both).
 */
class Getopt {
  optind = 0;
  /** __nextchar: [word index, character index]; undefined for NULL / "". */
  nextchar: [number, number] | undefined;
  /** Extension options, newest first. */
  extOpts: LongOpt[] = [];
  constructor(readonly argv: readonly string[]) {}

  /** xs_has_arg: the next word exists and starts with neither '-' nor '!'. */
  hasArg(): boolean {
    const w = this.argv[this.optind];
    return w !== undefined && w[0] !== '-' && w[0] !== '!';
  }

  next(): GetoptResult {
    const argv = this.argv;
    if (this.nextchar === undefined || this.nextchar[1] >= argv[this.nextchar[0]]!.length) {
      this.nextchar = undefined;
      if (this.optind >= argv.length) return { t: 'end' };
      const w = argv[this.optind]!;
      if (w === '--') {
        this.optind++;
        return { t: 'end' };
      }
      if (w[0] !== '-' || w.length === 1) {
        this.optind++;
        return { t: 'nonopt', arg: w };
      }
      if (w[1] === '-') return this.long(w);
      this.nextchar = [this.optind, 1];
    }
    const nc = this.nextchar;
    const w = argv[nc[0]]!;
    const c = w[nc[1]++]!;
    const atEnd = nc[1] >= w.length;
    // glibc increments optind when it starts on the word's last character.
    if (atEnd) this.optind++;
    const arity = SHORT.get(c);
    if (arity === undefined) return { t: 'unknown' };
    const val: OptVal = SHORT_VAL.get(c)!;
    if (arity === 0) return { t: 'opt', val, optarg: undefined };
    this.nextchar = undefined;
    if (!atEnd) {
      this.optind++;
      return { t: 'opt', val, optarg: w.slice(nc[1]) };
    }
    if (arity === 2) return { t: 'opt', val, optarg: undefined };
    if (this.optind >= argv.length) return { t: 'missing' };
    return { t: 'opt', val, optarg: argv[this.optind++] };
  }

  private long(w: string): GetoptResult {
    const body = w.slice(2);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    // BASE_LONG then extOpts, in that order (without concatenating them per option).
    const ext = this.extOpts;
    let found: LongOpt | undefined;
    for (let i = 0; i < BASE_LONG.length; i++) {
      if (BASE_LONG[i]!.name === name) {
        found = BASE_LONG[i];
        break;
      }
    }
    if (!found) {
      for (let i = 0; i < ext.length; i++) {
        if (ext[i]!.name === name) {
          found = ext[i];
          break;
        }
      }
    }
    if (!found) {
      let ambiguous = false;
      for (let k = 0; k < 2; k++) {
        const all = k === 0 ? BASE_LONG : ext;
        for (const o of all) {
          if (!o.name.startsWith(name)) continue;
          if (!found) found = o;
          else if (found.hasArg !== o.hasArg || !sameVal(found.val, o.val)) ambiguous = true;
        }
      }
      if (ambiguous || !found) {
        this.optind++;
        return { t: 'unknown' };
      }
    }
    this.optind++;
    if (eq >= 0) {
      if (found.hasArg === 0) return { t: 'unknown' };
      return { t: 'opt', val: found.val, optarg: body.slice(eq + 1) };
    }
    if (found.hasArg === 1) {
      if (this.optind >= this.argv.length) return { t: 'missing' };
      return { t: 'opt', val: found.val, optarg: this.argv[this.optind++] };
    }
    return { t: 'opt', val: found.val, optarg: undefined };
  }
}

export interface ParseOptions {
  /** Program name used in messages that name it ("The -t option cannot be used in %s."). */
  program?: string;
  /** Parsing a rule line of iptables-restore: argv starts with "-t", table (as restore adds). */
  restore?: boolean;
  /**
   * Receives each warning when iptables prints it: at once, while parsing, so that it also
   * precedes a later error ("Ignoring deprecated --wait-interval option." before "--wait-interval
   * only makes sense with --wait"). Without it, warnings are returned in Command.warnings, or,
   * when parsing fails, in the error's stderrBefore.
   */
  onWarning?: (line: string) => void;
}

function parseRulenumber(s: string): number {
  const n = strtoui(s, 1, 0x7fffffff);
  if (n === undefined) throw parameterProblem(`Invalid rule number \`${s}'`);
  return n;
}

/** parse_chain of xshared.c (used by -N). */
function parseChainName(chain: string): void {
  if (chain[0] === '\0' || chain.length === 0) return;
  if (chain[0] === '!') throw parameterProblem("chain name not allowed to start with `!'");
  if (chain[0] === '-') throw parameterProblem("chain name not allowed to start with `-'");
  for (const ch of chain) if (/\s/.test(ch)) throw parameterProblem(`Invalid chain name \`${chain}'`);
}

/** xt_parse_target of xshared.c. */
function parseTargetName(name: string): string {
  if (name.length < 1) throw parameterProblem('Invalid target name (too short)');
  if (name.length >= XT_EXTENSION_MAXNAMELEN)
    throw parameterProblem(`Invalid target name \`${name}' (${XT_EXTENSION_MAXNAMELEN - 1} chars max)`);
  for (const ch of name) if (/\s/.test(ch)) throw parameterProblem(`Invalid target name \`${name}'`);
  return name;
}

/** sscanf("%llu"): leading whitespace, optional sign, digits; trailing junk ignored. */
function scanU64(s: string): bigint | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)/.exec(s);
  if (!m) return undefined;
  let v = BigInt(m[2]!);
  if (m[1] === '-') v = (1n << 64n) - (v % (1n << 64n));
  return v & ((1n << 64n) - 1n);
}

/** sscanf("%i") for -w: decimal, 0x hex, 0 octal prefix; trailing junk ignored. */
function scanInt(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)/.exec(s);
  if (!m) return undefined;
  const t = m[2]!;
  const v = /^0[xX]/.test(t) ? parseInt(t.slice(2), 16) : t.length > 1 && t[0] === '0' ? parseInt(t, 8) : Number(t);
  return m[1] === '-' ? -v : v;
}

const COMMAND_KINDS: Readonly<Record<number, CommandKind>> = {
  [CMD_INSERT]: 'insert', [CMD_DELETE]: 'delete', [CMD_DELETE_NUM]: 'delete-num', [CMD_REPLACE]: 'replace',
  [CMD_APPEND]: 'append', [CMD_FLUSH]: 'flush', [CMD_ZERO]: 'zero', [CMD_NEW_CHAIN]: 'new-chain',
  [CMD_DELETE_CHAIN]: 'delete-chain', [CMD_SET_POLICY]: 'policy', [CMD_RENAME_CHAIN]: 'rename-chain',
  [CMD_ZERO_NUM]: 'zero-num', [CMD_CHECK]: 'check',
};

const STANDARD_VERDICTS = new Set(['ACCEPT', 'DROP', 'RETURN']);

/** Whether a name is taken by a target (for -N's "may not clash with target name"). */
export function isTargetName(name: string): boolean {
  return STANDARD_VERDICTS.has(name) || name === 'QUEUE' || findTarget(name) !== undefined;
}

/**
 * Parses one iptables invocation (argv without the program name). Throws XtablesError with
 * iptables' wording; returns help / version requests as data.
 */
/** A ParseContext whose `rule` is built only when read (a class: no per-call accessor). */
class LazyRuleContext implements ParseContext {
  constructor(
    readonly table: ParseContext['table'],
    readonly chain: string,
    readonly proto: ParseContext['proto'],
    private readonly buildRule: () => Rule,
    readonly warn?: (w: string) => void,
  ) {}
  get rule(): Rule {
    return this.buildRule();
  }
}

export function parseCommandLine(argv: readonly string[], options: ParseOptions = {}): ParseResult {
  const warnings: string[] = [];
  try {
    return parseArgv(argv, options, warnings);
  } catch (e) {
    // iptables prints its warnings as it parses: they precede a later error.
    if (e instanceof XtablesError && warnings.length) e.stderrBefore = warnings.map((w) => w + '\n').join('') + e.stderrBefore;
    throw e;
  }
}

function parseArgv(argv: readonly string[], options: ParseOptions, warnings: string[]): ParseResult {
  const restore = options.restore ?? false;
  const program = options.program ?? 'iptables';
  const g = new Getopt(argv);

  let command = 0;
  let chain: string | undefined;
  let rulenum = 0;
  let newName: string | undefined;
  let policy: string | undefined;
  let table = 'filter';
  let tableSet = false;
  let opts = 0;
  let invflags = 0; // bit per OPT index
  let invert = false;
  let verbose = 0;
  let protocol: string | undefined;
  let proto = 0;
  let protoUsed = false;
  let shost: string | undefined;
  let dhost: string | undefined;
  let iniface: string | undefined;
  let outiface: string | undefined;
  let fragment = false;
  let jumpto: string | undefined;
  let gotoSet = false;
  let target: ExtSlot | undefined;
  const matches: ExtSlot[] = [];
  let counters: Counters | undefined;
  let wait: number | undefined;
  let waitInterval: number | undefined;
  const warn = (w: string): void => {
    if (options.onWarning) options.onWarning(w);
    else warnings.push(w);
  };
  /** A match or target that nf_tables would refuse at commit (reported per command kind). */
  let kernelRejects: KernelRejects | undefined;

  const addCommand = (newcmd: number, othercmds: number): void => {
    if (invert) throw parameterProblem("unexpected '!' flag");
    if (command & ~othercmds) throw parameterProblem(`Cannot use -${cmd2char(newcmd)} with -${cmd2char(command & ~othercmds)}`);
    command |= newcmd;
  };
  const setOption = (option: number): void => {
    const i = optIndex(option);
    if (opts & option) throw parameterProblem(`multiple -${OPTFLAGS[i]} flags not allowed`);
    opts |= option;
    if (invert) {
      if (!INVERTIBLE[i]) throw parameterProblem(`cannot have ! before -${OPTFLAGS[i]}`);
      invflags |= option;
    }
  };
  const optionalChain = (optarg: string | undefined): string | undefined => {
    if (optarg !== undefined) return optarg;
    if (g.hasArg()) return argv[g.optind++];
    return undefined;
  };

  /** argv[optind-1] in iptables' argv, whose [0] is the program name. */
  const optindWord = (): string => (g.optind > 0 ? argv[g.optind - 1]! : program);

  const ruleSoFar = (): Rule => buildRule(undefined, undefined);
  // `rule` is built only when a module reads it (most never do).
  const ctx = (): ParseContext =>
    new LazyRuleContext(
      table as ParseContext['table'],
      chain ?? '',
      opts & OPT_PROTOCOL ? { proto, invert: (invflags & OPT_PROTOCOL) !== 0 } : undefined,
      ruleSoFar,
      warn,
    );

  function buildRule(src: AddrMask | undefined, dst: AddrMask | undefined): Rule {
    const rule: Rule = { matches: [], counters: counters ? { ...counters } : { packets: 0n, bytes: 0n } };
    if (src && (src.mask !== 0 || invflags & OPT_SOURCE)) rule.src = { addr: src.addr, mask: src.mask, invert: (invflags & OPT_SOURCE) !== 0 };
    if (dst && (dst.mask !== 0 || invflags & OPT_DESTINATION)) rule.dst = { addr: dst.addr, mask: dst.mask, invert: (invflags & OPT_DESTINATION) !== 0 };
    // iptables-nft emits no expression for a plain `-i +` (every name matches): the rule has no
    // interface at all, as listings and -D / -C by spec see it. `! -i +` is kept.
    if (iniface !== undefined && (iniface !== '+' || invflags & OPT_VIANAMEIN)) rule.inIface = { name: iniface, invert: (invflags & OPT_VIANAMEIN) !== 0 };
    if (outiface !== undefined && (outiface !== '+' || invflags & OPT_VIANAMEOUT)) rule.outIface = { name: outiface, invert: (invflags & OPT_VIANAMEOUT) !== 0 };
    if (opts & OPT_PROTOCOL && (proto !== 0 || invflags & OPT_PROTOCOL)) rule.proto = { proto, invert: (invflags & OPT_PROTOCOL) !== 0 };
    if (fragment) rule.fragment = { invert: (invflags & OPT_FRAGMENT) !== 0 };
    rule.matches = mergeNativeMatches(matches.map((m): MatchInstance => ({ name: m.module.name, data: m.data })));
    let t: TargetInstance | undefined;
    if (target) t = { kind: 'extension', name: target.module.name, data: target.data };
    else if (jumpto !== undefined && STANDARD_VERDICTS.has(jumpto) && !gotoSet)
      t = { kind: 'standard', verdict: jumpto as 'ACCEPT' | 'DROP' | 'RETURN' };
    else if (jumpto !== undefined && jumpto !== '') t = gotoSet ? { kind: 'goto', chain: jumpto } : { kind: 'jump', chain: jumpto };
    if (t) rule.target = t;
    return rule;
  }

  const loadExtension = (slot: ExtSlot): void => {
    const newOpts: LongOpt[] = [];
    for (const spec of slot.module.options) {
      const hasArg: 0 | 1 | 2 = spec.args === 0 ? 0 : spec.args === 'optional' ? 2 : 1;
      newOpts.push({ name: spec.name, hasArg, val: { kind: 'ext', slot, spec } });
      for (const a of spec.aliases ?? []) newOpts.push({ name: a, hasArg, val: { kind: 'ext', slot, spec } });
    }
    g.extOpts = newOpts.concat(g.extOpts);
  };

  const addMatch = (module: MatchModule<any>): ExtSlot => {
    for (const m of matches) if (m.module.name === module.name) m.completed = true;
    const slot: ExtSlot = { kind: 'match', module, data: undefined, seen: new Set(), completed: false };
    slot.data = module.init(ctx());
    matches.push(slot);
    loadExtension(slot);
    return slot;
  };

  const extParse = (slot: ExtSlot, spec: OptionSpec, optarg: string | undefined): void => {
    const name = slot.module.name;
    if (invert && !spec.invertible) throw parameterProblem(`${name}: option "--${spec.name}" cannot be inverted.\n`);
    if (spec.once && slot.seen.has(spec.name)) throw parameterProblem(`${name}: option "--${spec.name}" can only be used once.\n`);
    slot.seen.add(spec.name);
    if (spec.warn) warn(spec.warn);
    const args: string[] = [];
    if (spec.args === 1) args.push(optarg!);
    else if (spec.args === 2) {
      args.push(optarg!);
      if (!g.hasArg()) throw parameterProblem(spec.missingSecond ?? `--${spec.name} requires two args.`);
      args.push(argv[g.optind++]!);
    } else if (spec.args === 'optional') {
      if (optarg !== undefined) args.push(optarg);
      else if (g.hasArg()) args.push(argv[g.optind++]!);
    }
    slot.data = slot.module.parse(slot.data, spec.name, args, invert, ctx());
  };

  /** load_proto: once per rule, the match named after -p's protocol. */
  const loadProto = (): boolean => {
    if (protocol === undefined || protoUsed) return false;
    const name = protoMatchName(proto);
    const m = name !== undefined ? findMatch(name) : undefined;
    if (!m) return false;
    protoUsed = true;
    addMatch(m);
    return true;
  };

  for (;;) {
    const r = g.next();
    if (r.t === 'end') break;
    if (r.t === 'nonopt') {
      if (r.arg === '!') {
        if (invert) throw parameterProblem('multiple consecutive ! not allowed');
        invert = true;
        continue;
      }
      throw new TryHelpError(`Bad argument \`${r.arg}'`);
    }
    if (r.t !== 'opt' || r.val.kind === 'ext') {
      // command_default: extension options first, then try the protocol's match, then errors.
      if (r.t === 'opt' && r.val.kind === 'ext') {
        const slot = r.val.slot;
        if (slot.kind === 'target' || !slot.completed) {
          extParse(slot, r.val.spec, r.optarg);
          invert = false;
          continue;
        }
      }
      if (loadProto()) {
        // load_proto's `optind--` (glibc's __nextchar untouched), then getopt runs again.
        g.optind--;
        continue;
      }
      if (r.t === 'missing') throw parameterProblem(`option "${optindWord()}" requires an argument`);
      throw parameterProblem(`unknown option "${optindWord()}"`);
    }
    const optarg = r.optarg;
    switch (r.val.c) {
      case 'A':
        addCommand(CMD_APPEND, 0);
        chain = optarg;
        break;
      case 'C':
        addCommand(CMD_CHECK, 0);
        chain = optarg;
        break;
      case 'D':
        addCommand(CMD_DELETE, 0);
        chain = optarg;
        if (g.hasArg()) {
          rulenum = parseRulenumber(argv[g.optind++]!);
          command = CMD_DELETE_NUM;
        }
        break;
      case 'R':
        addCommand(CMD_REPLACE, 0);
        chain = optarg;
        if (g.hasArg()) rulenum = parseRulenumber(argv[g.optind++]!);
        else throw parameterProblem('-R requires a rule number');
        break;
      case 'I':
        addCommand(CMD_INSERT, 0);
        chain = optarg;
        rulenum = g.hasArg() ? parseRulenumber(argv[g.optind++]!) : 1;
        break;
      case 'L':
        addCommand(CMD_LIST, CMD_ZERO | CMD_ZERO_NUM);
        {
          const c = optionalChain(optarg);
          if (c !== undefined) chain = c;
        }
        if (g.hasArg()) rulenum = parseRulenumber(argv[g.optind++]!);
        break;
      case 'S':
        addCommand(CMD_LIST_RULES, CMD_ZERO | CMD_ZERO_NUM);
        {
          const c = optionalChain(optarg);
          if (c !== undefined) chain = c;
        }
        if (g.hasArg()) rulenum = parseRulenumber(argv[g.optind++]!);
        break;
      case 'F':
        addCommand(CMD_FLUSH, 0);
        {
          const c = optionalChain(optarg);
          if (c !== undefined) chain = c;
        }
        break;
      case 'Z':
        addCommand(CMD_ZERO, CMD_LIST | CMD_LIST_RULES);
        {
          const c = optionalChain(optarg);
          if (c !== undefined) chain = c;
        }
        if (g.hasArg()) {
          rulenum = parseRulenumber(argv[g.optind++]!);
          command = (command & ~CMD_ZERO) | CMD_ZERO_NUM;
        }
        break;
      case 'N':
        parseChainName(optarg!);
        addCommand(CMD_NEW_CHAIN, 0);
        chain = optarg;
        break;
      case 'X':
        addCommand(CMD_DELETE_CHAIN, 0);
        {
          const c = optionalChain(optarg);
          if (c !== undefined) chain = c;
        }
        break;
      case 'E':
        addCommand(CMD_RENAME_CHAIN, 0);
        chain = optarg;
        if (g.hasArg()) newName = argv[g.optind++];
        else throw parameterProblem('-E requires old-chain-name and new-chain-name');
        break;
      case 'P':
        addCommand(CMD_SET_POLICY, 0);
        chain = optarg;
        if (g.hasArg()) policy = argv[g.optind++];
        else throw parameterProblem('-P requires a chain and a policy');
        break;
      case 'h': {
        // exit_printhelp: the base text, then the help of the target and of each match loaded so
        // far (targets first); with no match yet, `-p proto` loads the protocol's match.
        let text = helpText(program, VERSION);
        if (target) text += TARGET_HELP.get(target.module.name) ?? '';
        else if (jumpto !== undefined && !gotoSet && (STANDARD_VERDICTS.has(jumpto) || jumpto === 'QUEUE' || jumpto === '')) text += STANDARD_TARGET_HELP;
        const shown = matches.length ? matches.map((m) => m.module.name) : protocol !== undefined && findMatch(protocol) ? [findMatch(protocol)!.name] : [];
        for (const name of shown) text += MATCH_HELP.get(name) ?? '';
        return { kind: 'help', text };
      }
      case 'p': {
        setOption(OPT_PROTOCOL);
        protocol = optarg!.toLowerCase();
        proto = parseProtocol(protocol);
        if (proto === 0 && invflags & OPT_PROTOCOL) throw parameterProblem('rule would never match protocol');
        break;
      }
      case 's':
        setOption(OPT_SOURCE);
        shost = optarg;
        break;
      case 'd':
        setOption(OPT_DESTINATION);
        dhost = optarg;
        break;
      case 'g':
        setOption(OPT_JUMP);
        gotoSet = true;
        jumpto = parseTargetName(optarg!);
        break;
      case 'j': {
        setOption(OPT_JUMP);
        jumpto = parseTargetName(optarg!);
        const t = STANDARD_VERDICTS.has(jumpto) ? undefined : findTarget(jumpto);
        if (t) {
          const slot: ExtSlot = { kind: 'target', module: t, data: undefined, seen: new Set(), completed: false };
          slot.data = t.init(ctx());
          target = slot;
          loadExtension(slot);
        }
        break;
      }
      case 'i':
        if (optarg === '') throw parameterProblem('Empty interface is likely to be undesired');
        setOption(OPT_VIANAMEIN);
        {
          const w = checkInterface(optarg!);
          if (w) warn(w);
        }
        iniface = optarg;
        break;
      case 'o':
        if (optarg === '') throw parameterProblem('Empty interface is likely to be undesired');
        setOption(OPT_VIANAMEOUT);
        {
          const w = checkInterface(optarg!);
          if (w) warn(w);
        }
        outiface = optarg;
        break;
      case 'f':
        setOption(OPT_FRAGMENT);
        fragment = true;
        break;
      case 'v':
        if (!verbose) setOption(OPT_VERBOSE);
        verbose++;
        break;
      case 'm': {
        if (invert) throw parameterProblem('unexpected ! flag before --match');
        const m = findMatch(optarg!);
        if (!m) throw parameterProblem(`Couldn't load match \`${optarg}':No such file or directory\n`);
        addMatch(m);
        break;
      }
      case 'n':
        setOption(OPT_NUMERIC);
        break;
      case 't':
        if (invert) throw parameterProblem('unexpected ! flag before --table');
        if (restore && tableSet) throw parameterProblem(`The -t option cannot be used in ${program}.\n`);
        table = optarg!;
        tableSet = true;
        break;
      case 'x':
        setOption(OPT_EXPANDED);
        break;
      case 'V':
        return { kind: 'version', text: invert ? `Not ${VERSION} ;-)` : `${program} v${VERSION}` };
      case 'w': {
        if (restore) throw parameterProblem("You cannot use `-w' from iptables-restore");
        wait = -1;
        const a = optarg !== undefined ? optarg : g.hasArg() ? argv[g.optind++]! : undefined;
        if (a !== undefined) {
          const v = scanInt(a);
          if (v === undefined) throw parameterProblem('wait seconds not numeric');
          wait = v;
        }
        break;
      }
      case 'W': {
        if (restore) throw parameterProblem("You cannot use `-W' from iptables-restore");
        const a = optarg !== undefined ? optarg : g.hasArg() ? argv[g.optind++]! : undefined;
        if (a === undefined) throw parameterProblem('wait interval value required');
        const m = /^[ \t\n\v\f\r]*\+?([0-9]+)/.exec(a);
        if (!m) throw parameterProblem('wait interval not numeric');
        const usec = Number(m[1]) % 2 ** 32;
        if (usec > 999999) throw parameterProblem(`too long usec wait ${usec} > 999999 usec`);
        // iptables-nft 1.8.9 takes the interval only to warn that it ignores it.
        warn('Ignoring deprecated --wait-interval option.');
        waitInterval = usec;
        break;
      }
      case '0':
        setOption(OPT_LINENUMBERS);
        break;
      case 'M':
        break;
      case 'c': {
        setOption(OPT_COUNTERS);
        const pcnt = optarg!;
        const comma = pcnt.indexOf(',');
        let bcnt: string | undefined = comma >= 0 ? pcnt.slice(comma + 1) : undefined;
        if (bcnt === undefined && g.hasArg()) bcnt = argv[g.optind++];
        if (bcnt === undefined) throw parameterProblem('-c requires packet and byte counter');
        const p = scanU64(pcnt);
        if (p === undefined) throw parameterProblem('-c packet counter not numeric');
        const b = scanU64(bcnt);
        if (b === undefined) throw parameterProblem('-c byte counter not numeric');
        counters = { packets: p, bytes: b };
        break;
      }
      case '4':
        break;
      case '6':
        if (restore) return { kind: 'ignore' };
        throw new TryHelpError('');
      case 'b':
        throw parameterProblem('Unknown arg "(null)"');
      default:
        throw parameterProblem(`unknown option "${optindWord()}"`);
    }
    invert = false;
  }

  if (table === 'nat' && (policy === 'DROP' || (jumpto === 'DROP' && !gotoSet)))
    throw parameterProblem('\nThe "nat" table is not intended for filtering, the use of DROP is therefore inhibited.\n\n');
  // xshared.c: `if (!wait && wait_interval_set)`, so `-w 0 -W n` is refused too.
  if (!wait && waitInterval !== undefined) throw parameterProblem('--wait-interval only makes sense with --wait\n');

  // A KernelRejects is what the kernel would answer at commit, after every parse check passed:
  // kept, and turned into the command's own error by apply (RULE_INSERT failed, Bad rule, …).
  const kernelCheck = (f: () => void): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof KernelRejects)) throw e;
      kernelRejects ??= e;
    }
  };
  for (const m of matches) kernelCheck(() => (m.module as MatchModule<any>).finalCheck?.(m.data, ctx()));
  if (target) kernelCheck(() => (target!.module as TargetModule<any>).finalCheck?.(target!.data, ctx()));

  if (g.optind < argv.length) throw parameterProblem('unknown arguments found on commandline');
  if (!command) throw parameterProblem('no command specified');
  if (invert) throw parameterProblem('nothing appropriate following !');

  const ruleCmd = CMD_REPLACE | CMD_INSERT | CMD_DELETE | CMD_APPEND | CMD_CHECK;
  if (command & ruleCmd) {
    if (!(opts & OPT_DESTINATION)) dhost = '0.0.0.0/0';
    if (!(opts & OPT_SOURCE)) shost = '0.0.0.0/0';
  }
  const srcs = shost !== undefined ? parseAddresses(shost) : [];
  const dsts = dhost !== undefined ? parseAddresses(dhost) : [];
  if ((srcs.length > 1 || dsts.length > 1) && invflags & (OPT_SOURCE | OPT_DESTINATION))
    throw parameterProblem('! not allowed with multiple source or destination IP addresses');
  if (command === CMD_REPLACE && (srcs.length !== 1 || dsts.length !== 1))
    throw parameterProblem('Replacement rule does not specify a unique address');

  // generic_opt_check
  for (let i = 0; i < NUMBER_OF_OPT; i++) {
    if (!(opts & (1 << i))) continue; // legal stays 0 for options not given
    let legal = 0;
    for (let j = 0; j < COMMANDS_V_OPTIONS.length; j++) {
      if (!(command & (1 << j))) continue;
      if (opts & (1 << i)) {
        if (COMMANDS_V_OPTIONS[j]![i] !== 'x') legal = 1;
        else if (legal === 0) legal = -1;
      }
    }
    if (legal === -1) throw parameterProblem(`Illegal option \`-${OPTFLAGS[i]}' with this command`);
  }

  if (chain !== undefined && chain.length >= XT_EXTENSION_MAXNAMELEN)
    throw parameterProblem(`chain name \`${chain}' too long (must be under ${XT_EXTENSION_MAXNAMELEN} chars)`);

  if (command & ruleCmd || command === CMD_DELETE_NUM) {
    if ((chain === 'PREROUTING' || chain === 'INPUT') && opts & OPT_VIANAMEOUT)
      throw parameterProblem(`Can't use -o with ${chain}\n`);
    if ((chain === 'POSTROUTING' || chain === 'OUTPUT') && opts & OPT_VIANAMEIN)
      throw parameterProblem(`Can't use -i with ${chain}\n`);
  }

  const rules: Rule[] = [];
  if (command & ruleCmd) {
    for (const s of srcs) for (const d of dsts) rules.push(buildRule(s, d));
  }

  let kind: CommandKind;
  let zero: Command['zero'];
  const base = command & ~(CMD_ZERO | CMD_ZERO_NUM);
  if (base === CMD_LIST || base === CMD_LIST_RULES) {
    kind = base === CMD_LIST ? 'list' : 'list-rules';
    if (command & CMD_ZERO) zero = 'chain';
    if (command & CMD_ZERO_NUM) zero = 'rule';
  } else {
    kind = COMMAND_KINDS[command]!;
  }

  const cmd: Command = {
    kind,
    table,
    rules,
    list: {
      verbose: (opts & OPT_VERBOSE) !== 0,
      numeric: (opts & OPT_NUMERIC) !== 0,
      exact: (opts & OPT_EXPANDED) !== 0,
      lineNumbers: (opts & OPT_LINENUMBERS) !== 0,
    },
    verbose,
    warnings,
  };
  if (chain !== undefined) cmd.chain = chain;
  if (rulenum) cmd.rulenum = rulenum;
  if (newName !== undefined) cmd.newName = newName;
  if (policy !== undefined) cmd.policy = policy;
  if (counters) cmd.counters = counters;
  if (zero) cmd.zero = zero;
  if (wait !== undefined) cmd.wait = wait;
  if (waitInterval !== undefined) cmd.waitInterval = waitInterval;
  if (kernelRejects && command & ruleCmd) cmd.kernelRejects = { chain: kernelRejects.chain, errno: kernelRejects.errno };
  return { kind: 'command', command: cmd };
}

/**
 * iptables-nft stores tcp and udp matches as native nftables payload expressions and rebuilds
 * ONE such match per rule when it lists or saves: `-m tcp --dport 80 -m tcp --syn` reads back as
 * `-m tcp --dport 80 --tcp-flags FIN,SYN,RST,ACK SYN`, at the first one's place, a later value of
 * the same option replacing an earlier one. Merging at parse time keeps -S / save / -L and
 * -D / -C by spec identical to it.
 */
const NATIVE_MERGED = new Set(['tcp', 'udp']);
/** Option value → its inversion flag, in TcpData / UdpData. */
const NATIVE_OPTION_PAIRS: ReadonlyArray<[string, string]> = [['spts', 'spInv'], ['dpts', 'dpInv'], ['option', 'optInv'], ['flags', 'flInv']];

function mergeNativeMatches(ms: MatchInstance[]): MatchInstance[] {
  if (ms.length < 2) return ms;
  const out: MatchInstance[] = [];
  const first = new Map<string, MatchInstance>();
  for (const m of ms) {
    const into = NATIVE_MERGED.has(m.name) ? first.get(m.name) : undefined;
    if (!into) {
      if (NATIVE_MERGED.has(m.name)) {
        const copy = { name: m.name, data: { ...(m.data as object) } };
        first.set(m.name, copy);
        out.push(copy);
      } else out.push(m);
      continue;
    }
    const d = into.data as Record<string, unknown>;
    const src = m.data as Record<string, unknown>;
    for (const [k, inv] of NATIVE_OPTION_PAIRS) {
      if (src[k] === undefined) continue;
      d[k] = src[k];
      d[inv] = src[inv];
    }
  }
  return out;
}

