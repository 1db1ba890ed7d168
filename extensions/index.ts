// Explicit registry of every match and target module (no filesystem discovery).
// Lookup is by the name iptables uses: lower-case matches, upper-case targets.
import type { MatchModule, TargetModule } from './types.ts';

export const MATCHES: ReadonlyMap<string, MatchModule<any>> = new Map<string, MatchModule<any>>([
]);

export const TARGETS: ReadonlyMap<string, TargetModule<any>> = new Map<string, TargetModule<any>>([
]);

export function findMatch(name: string): MatchModule<any> | undefined {
  return MATCHES.get(name);
}

export function findTarget(name: string): TargetModule<any> | undefined {
  return TARGETS.get(name);
}
