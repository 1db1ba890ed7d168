// The seam between the CLI's state layer and the kernel datapath. The integrator replaces these
// bodies: namespaceKey() with the netns cookie, beforeRead() with a counter refresh from the
// kernel, commit() with compile + load (throwing XtablesError when a rule cannot be enforced).
import { statSync } from 'node:fs';
import type { Ruleset } from '../ruleset/types.ts';

/** Key of the current network namespace (for now the inode of /proc/self/ns/net). */
export function namespaceKey(): string {
  return String(statSync('/proc/self/ns/net').ino);
}

/** Called on every loaded ruleset before it is listed or edited: refresh counters. */
export function beforeRead(ruleset: Ruleset): Ruleset {
  return ruleset;
}

/**
 * Called with the lock held after a command produced a new ruleset and before it is persisted.
 * Rules of `newRuleset` all have ids; ids that did not exist in `oldRuleset` are new counter
 * slots (the state layer never reuses an id of `oldRuleset` for a different rule in one commit).
 */
export function commit(oldRuleset: Ruleset, newRuleset: Ruleset): void {
  void oldRuleset;
  void newRuleset;
}

/** Called by `--bpftables-teardown` before the state directory is removed. */
export function teardown(): void {}
