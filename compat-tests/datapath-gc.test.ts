// Namespaces deleted without `--bpftables-teardown` (plain `ip netns del`, a container exiting)
// must not leak their pinned maps: the next namespace that creates a datapath collects them.
// A namespace that is merely idle (held by its `ip netns` bind mount) is never collected.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { bpffsRoot } from '../bpf/loader/api.ts';
import { Scratch, run } from './lib/netns.ts';

const made: Scratch[] = [];
afterAll(() => {
  for (const s of made) s.destroy();
});

function cookieDirs(): Set<string> {
  // On a fresh machine nothing has created the bpftables pin directory before this test runs.
  const dir = `${bpffsRoot()}/bpftables`;
  if (!existsSync(dir)) return new Set();
  return new Set(readdirSync(dir).filter((n) => /^\d+$/.test(n)));
}

/** Pins that appeared while fn ran (this namespace's), assuming no other test creates pins meanwhile is not needed: we diff by name. */
function addRule(ns: Scratch): void {
  const r = run(ns, 'bpftables', 'iptables', ['-A', 'INPUT', '-s', '192.0.2.1', '-j', 'DROP']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

describe('garbage collection of deleted namespaces', () => {
  it("frees a deleted namespace's pins and state, keeps a live idle one", () => {
    const live = Scratch.create('gcl');
    made.push(live);
    const doomed = Scratch.create('gcd');
    const before = cookieDirs();
    addRule(live);
    const liveCookie = [...cookieDirs()].find((c) => !before.has(c))!;
    const mid = cookieDirs();
    addRule(doomed);
    const doomedCookie = [...cookieDirs()].find((c) => !mid.has(c))!;
    expect(liveCookie).toBeDefined();
    expect(doomedCookie).toBeDefined();
    expect(existsSync(`/run/bpftables/${doomedCookie}/ruleset.json`)).toBe(true);

    spawnSync('ip', ['netns', 'del', doomed.name]);
    // The kernel frees the namespace asynchronously; its inode is gone from every holder at once.
    const third = Scratch.create('gct');
    made.push(third);
    addRule(third);

    expect(existsSync(`${bpffsRoot()}/bpftables/${doomedCookie}`)).toBe(false);
    expect(existsSync(`/run/bpftables/${doomedCookie}`)).toBe(false);
    expect(existsSync(`/run/bpftables/${doomedCookie}.lock`)).toBe(false);
    // the idle namespace keeps everything, and its ruleset still lists
    expect(existsSync(`${bpffsRoot()}/bpftables/${liveCookie}`)).toBe(true);
    expect(run(live, 'bpftables', 'iptables', ['-S', 'INPUT']).stdout).toBe('-P INPUT ACCEPT\n-A INPUT -s 192.0.2.1/32 -j DROP\n');
  });
});
