// iptables-restore over the model: the whole file runs in one Transaction and becomes the new
// ruleset only if every line succeeds (all or nothing; real iptables-nft commits per COMMIT —
// a documented known difference). Rule lines go through parseCommandLine like the command line.
import type { Command } from '../parser/ast.ts';
import { parseCommandLine } from '../parser/command.ts';
import { XtablesError, parameterProblem } from '../parser/errors.ts';
import { parseChainCounters, splitLines, splitRuleCounters, splitRuleLine, strtokWords } from '../parser/restore.ts';
import { BatchError, MissingJumpTarget, Transaction, checkTableName, runCommand, validateJumps, type ApplyEnv } from './apply.ts';
import { chainsInOrder } from './format.ts';
import type { Ruleset, TableName } from './types.ts';
import { TABLE_NAMES, isBuiltinChain, zeroCounters } from './types.ts';

export interface RestoreOptions extends ApplyEnv {
  /** -c: use the [p:b] counters of chain and rule lines. */
  counters?: boolean;
  /** -n: do not flush tables; declaring a user chain still flushes it. */
  noflush?: boolean;
  /** -t: parse and check only. */
  test?: boolean;
  /** -T: only this table. */
  table?: string;
  /** -v */
  verbose?: boolean;
  /** Program name in messages ("iptables-restore"). */
  program?: string;
}

/** An error at a line of the restore file; bin/ renders it the way iptables-restore does. */
export class RestoreLineError extends XtablesError {
  constructor(readonly inner: XtablesError, readonly line: number) {
    super(inner.message, inner.exitCode, { raw: inner.raw });
  }
}

export interface RestoreResult {
  ruleset: Ruleset;
  stdout: string;
  /** Warnings to print on stderr (e.g. weird interface names). */
  stderr: string;
  changed: boolean;
}

export function restoreRuleset(ruleset: Ruleset, text: string, opts: RestoreOptions = {}): RestoreResult {
  const program = opts.program ?? 'iptables-restore';
  const tx = new Transaction(ruleset, opts);
  tx.deferJumpCheck = true;
  let stdout = '';
  let stderr = '';
  let inTable = false;
  let curTable: TableName | undefined;
  let pendingLine = 0;
  // iptables-nft checks jump targets when it prepares the batch at COMMIT, command by command
  // against its chain cache: the first missing target is reported at the COMMIT line, and the
  // batch-time errors of later commands never show. The cache does not follow -E, so a chain's
  // new name is no jump target until the next table block.
  let deferred: XtablesError | undefined;
  let renamedTo = new Set<string>();
  const lines = splitLines(text);
  let lineNo = 0;
  const fail = (e: unknown): never => {
    if (e instanceof XtablesError && !(e instanceof RestoreLineError)) {
      const err = new RestoreLineError(e, lineNo);
      // Warnings of earlier lines were already on stderr when the failing line was read.
      err.stderrBefore = stderr;
      throw err;
    }
    throw e;
  };

  for (const buffer of lines) {
    lineNo++;
    try {
      if (buffer[0] === '\n') continue;
      if (buffer[0] === '#') {
        if (opts.verbose) stdout += buffer;
        continue;
      }
      if (inTable && buffer.startsWith('COMMIT') && (buffer.length === 6 || buffer[6] === '\n')) {
        if (deferred) throw deferred;
        if (tx.pendingJump && curTable) {
          const bad = validateJumps(tx.view(curTable));
          if (bad) {
            const chain = bad.errno === 'Operation not supported' ? tx.pendingJump.chain : bad.chain;
            lineNo = pendingLine;
            throw new BatchError(`${tx.pendingJump.op} failed (${bad.errno}): rule in chain ${chain}`);
          }
          tx.pendingJump = undefined;
        }
        inTable = false;
        continue;
      }
      if (buffer[0] === '*' && !inTable) {
        const table = strtokWords(buffer.slice(1))[0];
        if (table === undefined) throw parameterProblem(`${program}: line ${lineNo} table name invalid`);
        if (!(TABLE_NAMES as readonly string[]).includes(table))
          throw parameterProblem(`${program}: line ${lineNo} table name '${table}' invalid`);
        curTable = table as TableName;
        renamedTo = new Set();
        if (opts.table !== undefined && opts.table !== table) continue;
        if (!opts.noflush) {
          if (opts.verbose) {
            const chains = chainsInOrder(tx.view(curTable));
            for (const c of chains) stdout += `Flushing chain \`${c.name}'\n`;
            for (const c of chains) if (c.policy === undefined) stdout += `Deleting chain \`${c.name}'\n`;
          }
          // iptables-nft flushes a table by deleting it (NFT_MSG_DELTABLE): a block that adds
          // nothing leaves it absent, and iptables-save shows nothing for it.
          tx.reset(curTable);
          // Verbose, the flush lists the chains, and that (as for -F -v) creates the table.
          if (opts.verbose) tx.writable(curTable);
        }
        inTable = true;
        continue;
      }
      if (buffer[0] === ':' && inTable) {
        const words = strtokWords(buffer.slice(1));
        const chain = words[0];
        if (chain === undefined) throw parameterProblem(`${program}: line ${lineNo} chain name invalid`);
        if (chain.length >= 29) throw parameterProblem(`chain name \`${chain}' too long (must be under 29 chars)`);
        const policy = words[1];
        if (policy === undefined) throw parameterProblem(`${program}: line ${lineNo} policy invalid`);
        const table = curTable!;
        const t = tx.writable(table);
        if (isBuiltinChain(table, chain)) {
          let counters = zeroCounters();
          if (opts.counters) {
            const c = parseChainCounters(words[2]);
            if (!c) throw parameterProblem(`invalid policy counters for chain '${chain}'`);
            counters = c;
          }
          if (policy !== 'ACCEPT' && policy !== 'DROP' && policy !== '-')
            throw new XtablesError('iptables: Bad policy name.', 1, { raw: true });
          const c = tx.writableChain(t, chain)!;
          if (policy !== '-') c.policy = policy;
          // A chain line creates (or re-creates) the base chain with policy counters.
          c.base = 'counted';
          c.counters = counters;
        } else if (tx.findChain(t, chain)) {
          tx.writableChain(t, chain)!.rules.length = 0;
        } else {
          t.chains.push({ name: chain, counters: zeroCounters(), rules: [] });
          tx.invalidate(t);
        }
        continue;
      }
      if (inTable) {
        const { rest, pcnt, bcnt } = splitRuleCounters(buffer, lineNo);
        const argv = ['-t', curTable!];
        if (opts.counters && pcnt !== undefined && bcnt !== undefined) argv.push('--set-counters', pcnt, bcnt);
        for (const w of splitRuleLine(rest)) argv.push(w);
        const r = parseCommandLine(argv, { restore: true, program });
        if (r.kind === 'ignore') continue;
        if (r.kind !== 'command') {
          stdout += r.text + '\n';
          continue;
        }
        const cmd: Command = r.command;
        for (const w of cmd.warnings) stderr += w + '\n';
        checkTableName(cmd.table);
        if (opts.verbose && (cmd.kind === 'append' || cmd.kind === 'insert' || cmd.kind === 'replace' || cmd.kind === 'delete'))
          cmd.verbose = Math.max(cmd.verbose, 1);
        const hadJump = tx.pendingJump;
        try {
          for (const r of cmd.rules) {
            const t = r.target;
            if ((t?.kind === 'jump' || t?.kind === 'goto') && renamedTo.has(t.chain)) throw new MissingJumpTarget(t.chain);
          }
          stdout += runCommand(tx, cmd);
        } catch (e) {
          if (!(e instanceof XtablesError)) throw e;
          if (e instanceof MissingJumpTarget) deferred ??= e;
          if (deferred) continue;
          throw e;
        }
        if (cmd.kind === 'rename-chain') renamedTo.add(cmd.newName!);
        if (tx.pendingJump !== hadJump) pendingLine = lineNo;
        continue;
      }
      if (opts.table !== undefined && curTable !== undefined && curTable !== opts.table) continue;
      throw new XtablesError(`${program}: line ${lineNo} failed`, 1, { raw: true });
    } catch (e) {
      fail(e);
    }
  }
  if (inTable) throw new XtablesError(`${program}: COMMIT expected at line ${lineNo + 1}`, 1, { raw: true });
  if (opts.test) return { ruleset, stdout, stderr, changed: false };
  const next = tx.result();
  return { ruleset: next, stdout, stderr, changed: next !== ruleset };
}
