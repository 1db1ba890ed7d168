// Multi-call entry point: iptables / iptables-save / iptables-restore (and the bpftables and
// pcn-iptables names). argv in, exit code out; the one place errors are rendered.
import { readFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { TryHelpError, VERSION, parseCommandLine } from '../parser/command.ts';
import { XtablesError } from '../parser/errors.ts';
import { BatchError, checkTableName, execute, isWriteCommand } from '../ruleset/apply.ts';
import { formatSave } from '../ruleset/format.ts';
import { RestoreLineError, restoreRuleset } from '../ruleset/restore.ts';
import type { Ruleset, TableName } from '../ruleset/types.ts';
import { TABLE_NAMES } from '../ruleset/types.ts';
import { detectForeignRules } from './foreign.ts';
import { PCN_COMMANDS } from './pcn.ts';
import * as bridge from '../state/bridge.ts';
import { acquireLock } from '../state/lock.ts';
import { assignIds, loadRuleset, loadState, removeState, saveRuleset } from '../state/store.ts';
import { mark, report } from '../state/timing.ts';

type Tool = 'iptables' | 'iptables-save' | 'iptables-restore';

function toolOf(name: string): Tool {
  if (name.endsWith('-save')) return 'iptables-save';
  if (name.endsWith('-restore')) return 'iptables-restore';
  return 'iptables';
}

let outBuf = '';
let errBuf = '';
function flush(): void {
  if (errBuf) writeAll(2, errBuf);
  if (outBuf) writeAll(1, outBuf);
  errBuf = outBuf = '';
}
function writeAll(fd: number, s: string): void {
  const b = Buffer.from(s);
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return;
      throw e;
    }
  }
}

function tryHelp(prog: string): string {
  return `Try \`${prog} -h' or '${prog} --help' for more information.\n`;
}

/** Renders an XtablesError as iptables prints it (xtables_error / exit_tryhelp). */
export function renderError(e: XtablesError, prog: string, line?: number): string {
  return e.preface + e.stderrBefore + renderMessage(e, prog, line);
}

function renderMessage(e: XtablesError, prog: string, line?: number): string {
  const at = line !== undefined ? `Error occurred at line: ${line}\n` : '';
  if (e instanceof TryHelpError) return (e.message ? e.message + '\n' : '') + at + tryHelp(prog);
  if (e.raw) return e.message + '\n';
  const head = `${prog} v${VERSION}: ${e.message}\n`;
  if (e.exitCode === 2) return head + at + tryHelp(prog);
  if (e.exitCode === 3) return head + 'Perhaps iptables or your kernel needs to be upgraded.\n';
  return head;
}

function renderRestoreError(e: RestoreLineError, prog: string): string {
  return e.stderrBefore + e.inner.stderrBefore + renderRestoreMessage(e, prog);
}

function renderRestoreMessage(e: RestoreLineError, prog: string): string {
  const inner = e.inner;
  if (inner instanceof BatchError) return `${prog} v${VERSION}: \nline ${e.line}: ${inner.detail}\n`;
  if (inner.raw && inner.exitCode === 1 && inner.message.startsWith('iptables: '))
    return `${prog}: line ${e.line} failed: ${inner.message.slice('iptables: '.length)}\n`;
  if (inner.raw) return inner.message + '\n';
  return renderMessage(inner, prog, inner.exitCode === 2 ? e.line : undefined);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** ctime(3) without the newline, local time. */
function ctime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** xtables_ipaddr_to_anyname: /etc/hosts, then /etc/networks (network part of the address). */
function hostResolver(): (addr: number) => string | undefined {
  const hosts = new Map<number, string>();
  const nets = new Map<number, string>();
  const parse = (file: string, into: Map<number, string>, net: boolean): void => {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      const w = line.replace(/#.*/, '').trim().split(/\s+/);
      if (w.length < 2) continue;
      const [a, b] = net ? [w[1]!, w[0]!] : [w[0]!, w[1]!];
      const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?$/.exec(a);
      if (!m) continue;
      const parts = [m[1], m[2], m[3], m[4]].filter((x) => x !== undefined).map(Number);
      let v = 0;
      if (net) {
        // getnetbyaddr takes the network number (host order, without trailing zero bytes).
        for (const p of parts) v = v * 256 + p;
        v = v * 256 ** (4 - parts.length);
      } else {
        if (parts.length !== 4) continue;
        v = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
      }
      if (!into.has(v)) into.set(v, b);
    }
  };
  parse('/etc/hosts', hosts, false);
  parse('/etc/networks', nets, true);
  return (addr) => hosts.get(addr) ?? nets.get(addr);
}

function env(): { modelOnly: boolean } {
  return { modelOnly: process.env.BPFTABLES_MODEL_ONLY === '1' };
}

/** Loads, lets `fn` compute the new ruleset, and commits it under the lock. */
async function writeTransaction(
  wait: number | undefined,
  waitInterval: number | undefined,
  fn: (r: Ruleset) => { ruleset: Ruleset; changed: boolean },
  /** The command can change the filter table (the only one the datapath enforces). */
  touchesFilter = true,
): Promise<void> {
  mark('parse argv');
  await acquireLock(wait, waitInterval, (s) => writeAll(2, s));
  mark('lock');
  const { ruleset: loaded, specTag } = loadState();
  mark('state load');
  // A command on another table leaves the filter table (and so the datapath) alone: its
  // counters stay in the kernel, where listings read them.
  const old = touchesFilter ? bridge.beforeRead(loaded) : loaded;
  mark('counters read');
  const res = fn(old);
  mark('apply');
  if (!res.changed) return;
  const next = assignIds(old, res.ruleset);
  mark('assign ids');
  // Same filter table object: nothing to compile or swap, and its cached spec stays valid.
  const tag = next.tables.filter !== old.tables.filter ? bridge.commit(old, next, specTag) : specTag;
  saveRuleset(next, tag);
  mark('state write');
}

async function runIptables(argv: string[]): Promise<number> {
  const prog = 'iptables';
  try {
    const r = parseCommandLine(argv, { program: prog, onWarning: (w) => (errBuf += w + '\n') });
    if (r.kind === 'help') {
      outBuf += r.text;
      return 0;
    }
    if (r.kind === 'version') {
      outBuf += r.text + '\n';
      return 0;
    }
    if (r.kind === 'ignore') return 0;
    const cmd = r.command;
    for (const w of cmd.warnings) errBuf += w + '\n';
    checkTableName(cmd.table);
    let resolver: ((addr: number) => string | undefined) | undefined;
    const e = {
      ...env(),
      program: prog,
      hostName: cmd.list.numeric ? undefined : (addr: number) => (resolver ??= hostResolver())(addr),
    };
    if (!isWriteCommand(cmd)) {
      // Counters only when the output shows them (-v); -C shows none.
      const shows = cmd.kind !== 'check' && cmd.list.verbose;
      const res = execute(bridge.beforeRead(loadRuleset(), shows ? 'all' : 'none'), cmd, e);
      outBuf += res.stdout;
      // iptables-nft warns after a listing when another backend's tables are live here.
      if (cmd.kind === 'list' || cmd.kind === 'list-rules') errBuf += (await detectForeignRules('list')) ?? '';
      return 0;
    }
    await writeTransaction(cmd.wait, cmd.waitInterval, (old) => {
      const res = execute(old, cmd, e);
      outBuf += res.stdout;
      return res;
    }, cmd.table === 'filter');
    return 0;
  } catch (e) {
    if (e instanceof XtablesError) {
      outBuf = e.partialStdout ?? '';
      errBuf += renderError(e, prog);
      return e.exitCode;
    }
    throw e;
  }
}

/**
 * Minimal getopt_long for the -save / -restore outer flags (glibc messages, opterr on). Arity:
 * 0 none, 1 required, 2 optional (attached only), 3 a flag whose value, if any, is the next word
 * when that looks like a value (iptables-restore's -w / -W: `if (!optarg && xs_has_arg()) optind++`;
 * `--wait=5` attached too).
 */
function outerGetopt(
  prog: string,
  argv: string[],
  shorts: Record<string, 0 | 1 | 2 | 3>,
  longs: Record<string, [string, 0 | 1 | 2 | 3]>,
): { opts: Array<[string, string | undefined]>; rest: string[]; error?: string } {
  const opts: Array<[string, string | undefined]> = [];
  const rest: string[] = [];
  // xs_has_arg: the next word is an option's value unless it looks like an option or `!`.
  const hasArg = (j: number): boolean => j < argv.length && argv[j]![0] !== '-' && argv[j]![0] !== '!';
  let i = 0;
  while (i < argv.length) {
    const w = argv[i]!;
    if (w === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (w.startsWith('--')) {
      const eq = w.indexOf('=');
      const name = eq >= 0 ? w.slice(2, eq) : w.slice(2);
      const cands = Object.keys(longs).filter((k) => k.startsWith(name));
      const exact = Object.keys(longs).find((k) => k === name);
      const key = exact ?? (cands.length === 1 ? cands[0] : undefined);
      if (!key) {
        if (cands.length > 1) return { opts, rest, error: `${prog}: option '${w}' is ambiguous\n` };
        return { opts, rest, error: `${prog}: unrecognized option '${w}'\n` };
      }
      const [c, arity] = longs[key]!;
      i++;
      if (eq >= 0) {
        if (arity === 0) return { opts, rest, error: `${prog}: option '--${key}' doesn't allow an argument\n` };
        opts.push([c, w.slice(eq + 1)]);
      } else if (arity === 1) {
        if (i >= argv.length) return { opts, rest, error: `${prog}: option '--${key}' requires an argument\n` };
        opts.push([c, argv[i++]]);
      } else if (arity === 3 && hasArg(i)) opts.push([c, argv[i++]]);
      else opts.push([c, undefined]);
      continue;
    }
    if (w[0] === '-' && w.length > 1) {
      i++;
      for (let k = 1; k < w.length; k++) {
        const c = w[k]!;
        const arity = shorts[c];
        if (arity === undefined) return { opts, rest, error: `${prog}: invalid option -- '${c}'\n` };
        if (arity === 0) {
          opts.push([c, undefined]);
          continue;
        }
        if (arity === 3) {
          // No attached value; the next word is taken only after the option's last letter.
          opts.push([c, k === w.length - 1 && hasArg(i) ? argv[i++] : undefined]);
          continue;
        }
        const tail = w.slice(k + 1);
        if (tail) opts.push([c, tail]);
        else if (arity === 2) opts.push([c, undefined]);
        else if (i < argv.length) opts.push([c, argv[i++]]);
        else return { opts, rest, error: `${prog}: option requires an argument -- '${c}'\n` };
        break;
      }
      continue;
    }
    rest.push(w);
    i++;
    // glibc permutes: options after operands still count.
  }
  return { opts, rest };
}

async function runSave(argv: string[]): Promise<number> {
  const prog = 'iptables-save';
  const g = outerGetopt(prog, argv, { b: 0, c: 0, d: 0, t: 1, M: 1, f: 1, '4': 0, '6': 0, V: 0 }, {
    counters: ['c', 0], version: ['V', 0], dump: ['d', 0], table: ['t', 1], modprobe: ['M', 1], file: ['f', 1], ipv4: ['4', 0], ipv6: ['6', 0],
  });
  if (g.error) {
    errBuf += g.error + `Look at manual page \`${prog}.8' for more information.\n`;
    return 1;
  }
  let counters = false;
  let table: string | undefined;
  let file: string | undefined;
  for (const [c, a] of g.opts) {
    if (c === 'b') errBuf += '-b/--binary option is not implemented\n';
    else if (c === 'c') counters = true;
    else if (c === 't') table = a;
    else if (c === 'f') file = a;
    else if (c === 'V') {
      outBuf += `${prog} v${VERSION}\n`;
      return 0;
    }
  }
  if (g.rest.length) {
    errBuf += 'Unknown arguments found on commandline\n';
    return 1;
  }
  if (table !== undefined && !(TABLE_NAMES as readonly string[]).includes(table)) {
    errBuf += `Table \`${table}' does not exist\n`;
    return 1;
  }
  // Chain lines always show the policy counters; rule counters only with -c.
  const ruleset = bridge.beforeRead(loadRuleset(), counters ? 'all' : 'policies');
  const text = formatSave(ruleset, { counters, table: table as TableName | undefined, date: ctime(new Date()) });
  if (file !== undefined) {
    const { writeFileSync } = await import('node:fs');
    try {
      writeFileSync(file, text);
    } catch (e) {
      errBuf += `Failed to open file, error: ${(e as Error).message}\n`;
      return 1;
    }
    return 0;
  }
  outBuf += text;
  errBuf += (await detectForeignRules('save')) ?? '';
  return 0;
}

const RESTORE_USAGE = (p: string): string =>
  `Usage: ${p} [-c] [-v] [-V] [-t] [-h] [-n] [-T table] [-M command] [-4] [-6] [file]\n` +
  '\t   [ --counters ]\n\t   [ --verbose ]\n\t   [ --version]\n\t   [ --test ]\n\t   [ --help ]\n\t   [ --noflush ]\n' +
  '\t   [ --table=<TABLE> ]\n\t   [ --modprobe=<command> ]\n\t   [ --ipv4 ]\n\t   [ --ipv6 ]\n';

async function runRestore(argv: string[]): Promise<number> {
  const prog = 'iptables-restore';
  const g = outerGetopt(prog, argv, { b: 0, c: 0, v: 0, V: 0, t: 0, h: 0, n: 0, M: 1, T: 1, w: 3, W: 3, '4': 0, '6': 0 }, {
    counters: ['c', 0], verbose: ['v', 0], version: ['V', 0], test: ['t', 0], help: ['h', 0], noflush: ['n', 0],
    modprobe: ['M', 1], table: ['T', 1], ipv4: ['4', 0], ipv6: ['6', 0], wait: ['w', 3], 'wait-interval': ['W', 3],
  });
  if (g.error) {
    errBuf += g.error + `Try \`${prog} -h' for more information.\n`;
    return 1;
  }
  const opts = { counters: false, noflush: false, test: false, verbose: false, table: undefined as string | undefined };
  let wait: number | undefined;
  for (const [c, a] of g.opts) {
    switch (c) {
      case 'b':
        errBuf += '-b/--binary option is not implemented\n';
        break;
      case 'c':
        opts.counters = true;
        break;
      case 'v':
        opts.verbose = true;
        break;
      case 'V':
        outBuf += `${prog} v${VERSION}\n`;
        return 0;
      case 't':
        opts.test = true;
        break;
      case 'h':
        errBuf += RESTORE_USAGE(prog);
        return 0;
      case 'n':
        opts.noflush = true;
        break;
      case 'T':
        opts.table = a;
        break;
      case 'w':
        wait = a !== undefined && !Number.isNaN(Number.parseInt(a, 10)) ? Number.parseInt(a, 10) : -1;
        break;
    }
  }
  const rest = g.rest;
  let input: string;
  if (rest.length === 1) {
    try {
      input = readFileSync(rest[0]!, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const msg = err.code === 'ENOENT' ? 'No such file or directory' : err.code === 'EACCES' ? 'Permission denied' : err.message;
      errBuf += `Can't open ${rest[0]}: ${msg}\n`;
      return 1;
    }
  } else if (rest.length > 1) {
    errBuf += 'Unknown arguments found on commandline\n';
    return 1;
  } else {
    try {
      input = readFileSync(0, 'utf8');
    } catch {
      input = '';
    }
  }
  const e = { ...env(), program: prog, ...opts };
  try {
    if (opts.test) {
      const res = restoreRuleset(bridge.beforeRead(loadRuleset()), input, e);
      outBuf += res.stdout;
      errBuf += res.stderr;
      return 0;
    }
    await writeTransaction(wait ?? -1, undefined, (old) => {
      const res = restoreRuleset(old, input, e);
      outBuf += res.stdout;
      errBuf += res.stderr;
      return res;
    });
    return 0;
  } catch (err) {
    if (err instanceof RestoreLineError) {
      errBuf += renderRestoreError(err, prog);
      return err.exitCode;
    }
    if (err instanceof XtablesError) {
      errBuf += renderError(err, prog);
      return err.exitCode;
    }
    throw err;
  }
}

async function main(): Promise<number> {
  const name = process.env.BPFTABLES_ARGV0 ?? basename(process.argv[1] ?? 'iptables');
  const argv = process.argv.slice(2);
  if (argv[0] === '--bpftables-teardown') {
    bridge.teardown();
    removeState();
    return 0;
  }
  if (name in PCN_COMMANDS) {
    try {
      await PCN_COMMANDS[name]();
      return 0;
    } catch (e) {
      if (e instanceof XtablesError) {
        errBuf += renderError(e, name);
        return e.exitCode;
      }
      throw e;
    }
  }
  const tool = toolOf(name);
  if (tool === 'iptables-save') return runSave(argv);
  if (tool === 'iptables-restore') return runRestore(argv);
  return runIptables(argv);
}

main().then(
  (code) => {
    errBuf += report();
    flush();
    process.exitCode = code;
  },
  (e) => {
    flush();
    writeAll(2, `${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  },
);
