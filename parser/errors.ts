// The one error type of the core. iptables' exit codes (xtables.h enum xtables_exittype):
//   1 OTHER_PROBLEM, 2 PARAMETER_PROBLEM, 3 VERSION_PROBLEM, 4 RESOURCE_PROBLEM.
// Messages are whole string constants in iptables' wording; bin/ renders them:
// - PARAMETER_PROBLEM: "iptables v1.8.9 (nf_tables): <message>\nTry `iptables -h' or 'iptables --help' for more information."
// - others: as iptables prints them (e.g. "iptables: Bad rule (does a matching rule exist in that chain?).").
// `raw` messages are printed exactly as given (no prefix, no try-help line).

export type ExitCode = 1 | 2 | 3 | 4;

export class XtablesError extends Error {
  readonly exitCode: ExitCode;
  /** Print exactly `message` (already fully formatted, without trailing newline). */
  readonly raw: boolean;
  /** What the command had already printed on stdout when it failed (e.g. -L -Z: the listing). */
  partialStdout?: string;
  /** Lines iptables printed to stderr before the error (e.g. a module's "Warning: ..."), each ending in "\n". */
  readonly preface: string;
  /**
   * What iptables had already written to stderr when it failed (warnings printed while parsing,
   * e.g. "Ignoring deprecated --wait-interval option."); bin/ prints it before the message.
   */
  stderrBefore = '';

  constructor(message: string, exitCode: ExitCode = 2, options: { raw?: boolean; preface?: string } = {}) {
    super(message);
    this.name = 'XtablesError';
    this.exitCode = exitCode;
    this.raw = options.raw ?? false;
    this.preface = options.preface ?? '';
  }
}

/** xtables_error(PARAMETER_PROBLEM, ...) */
export function parameterProblem(message: string): XtablesError {
  return new XtablesError(message, 2);
}

/** xtables_error(OTHER_PROBLEM, ...) */
export function otherProblem(message: string): XtablesError {
  return new XtablesError(message, 1);
}

/**
 * What nf_tables answers at commit for a rule a match's or target's kernel check refuses
 * (EINVAL, ENOENT, …): iptables-nft prints "RULE_APPEND failed (Invalid argument): rule in chain X" for -A,
 * RULE_INSERT / RULE_REPLACE for -I / -R, and -C / -D never reach the kernel ("Bad rule").
 * Thrown by finalCheck; the parser records it on the Command and apply reports it for the
 * command's kind. The message is the -A form, for callers that only parse.
 */
export class KernelRejects extends XtablesError {
  readonly chain: string;
  /** strerror text of the kernel's answer: 'Invalid argument', 'No such file or directory', … */
  readonly errno: string;
  constructor(chain: string, errno = 'Invalid argument') {
    super(`iptables v1.8.9 (nf_tables):  RULE_APPEND failed (${errno}): rule in chain ${chain}`, 4, { raw: true });
    this.chain = chain;
    this.errno = errno;
  }
}
