// `iptables --version` without loading the CLI (bin/entry.ts). Imports nothing heavy.

/** parser/command.ts VERSION (checked equal by fast.test.ts; not imported: that loads all). */
export const FAST_VERSION = '1.8.9 (nf_tables)';

/** What the fast path prints for this invocation, or undefined when main.ts must run. */
export function fastPath(name: string, argv: readonly string[]): string | undefined {
  if (name !== 'iptables' && name !== 'bpftables') return undefined;
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return `iptables v${FAST_VERSION}\n`;
  return undefined;
}
