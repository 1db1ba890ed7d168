// Shared helpers for the real-client tests (compat-tests/clients-*.test.ts): which iptables a
// client gets, scratch namespaces linked by veth pairs, and the normalisation used to compare
// the rulesets a client leaves behind under bpftables and under real iptables-nft.
//
// Every namespace is named bpft-cli-<pid>-<n> and every address lives in 10.123.0.0/16 inside
// those namespaces only; traffic never leaves them.
import { afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST_BIN, normalise } from '../lib/netns.ts';

export type ClientImpl = 'nft' | 'bpftables';

/**
 * Where the bpftables side's iptables / iptables-save / iptables-restore live: dist/bin (the
 * Node build), or BPFTABLES_CLIENTS_BIN, e.g. dist/pkg/bpftables/bin for the packaged build.
 */
export const BPFTABLES_BIN = process.env.BPFTABLES_CLIENTS_BIN ?? DIST_BIN;
export const IMPLS: readonly ClientImpl[] = ['nft', 'bpftables'];

/** Whether the bpftables side can run (dist/bin/* exist: `npm run build`). */
export function bpftablesBuilt(): boolean {
  return ['iptables', 'iptables-save', 'iptables-restore'].every((t) => existsSync(join(BPFTABLES_BIN, t)));
}

/**
 * Why the bpftables side cannot run, or undefined when it can. Under CI=true the caller must
 * fail instead of skipping (STYLE.md habit 10).
 */
export function bpftablesMissing(): string | undefined {
  return bpftablesBuilt() ? undefined : `${BPFTABLES_BIN}/iptables not built (npm run build)`;
}

/**
 * A directory with iptables, iptables-save and iptables-restore for impl, to put first on a
 * client's PATH (or bind-mount over /usr/local/sbin for clients that reset PATH).
 */
export function toolDir(impl: ClientImpl): string {
  const dir = mkdtempSync(join(tmpdir(), `bpft-cli-${impl}-`));
  const target = (t: string): string => (impl === 'bpftables' ? join(BPFTABLES_BIN, t) : `/usr/sbin/${t.replace('iptables', 'iptables-nft')}`);
  for (const t of ['iptables', 'iptables-save', 'iptables-restore']) symlinkSync(target(t), join(dir, t));
  return dir;
}

export interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

export function sh(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(argv[0], argv.slice(1), { input: opts.input, encoding: 'utf8', env: opts.env ?? process.env, maxBuffer: 64 << 20 });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', code: r.status ?? -1 };
}

export function must(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = sh(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} → exit ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

let counter = 0;

/** A scratch network namespace (lo up). */
export class Ns {
  readonly name: string;
  constructor(tag: string) {
    this.name = `${process.env.BPFT_NETNS_PREFIX ?? 'bpft-'}cli-${tag}-${process.pid}-${counter++}`;
    must(['ip', 'netns', 'add', this.name]);
    must(['ip', '-n', this.name, 'link', 'set', 'lo', 'up']);
  }
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }
  exec(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
    return sh(['ip', 'netns', 'exec', this.name, ...argv], opts);
  }
  must(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): string {
    return must(['ip', 'netns', 'exec', this.name, ...argv], opts);
  }
  /** Removes bpftables state and pins of this namespace, then the namespace. */
  destroy(): void {
    if (bpftablesBuilt()) sh(['ip', 'netns', 'exec', this.name, join(BPFTABLES_BIN, 'bpftables'), '--bpftables-teardown']);
    sh(['ip', 'netns', 'del', this.name]);
  }
}

/** veth pair a(ifA, addrA/len) <-> b(ifB, addrB/len), both up. */
export function link(a: Ns, ifA: string, addrA: string, b: Ns, ifB: string, addrB: string): void {
  must(['ip', 'link', 'add', `${ifA}x${counter}`, 'netns', a.name, 'type', 'veth', 'peer', 'name', `${ifB}x${counter}`, 'netns', b.name]);
  a.must(['ip', 'link', 'set', `${ifA}x${counter}`, 'name', ifA]);
  b.must(['ip', 'link', 'set', `${ifB}x${counter}`, 'name', ifB]);
  counter++;
  a.must(['ip', 'addr', 'add', addrA, 'dev', ifA]);
  b.must(['ip', 'addr', 'add', addrB, 'dev', ifB]);
  a.must(['ip', 'link', 'set', ifA, 'up']);
  b.must(['ip', 'link', 'set', ifB, 'up']);
}

/** One ICMP echo from ns to addr: true when answered within 1 s. */
export function pings(ns: Ns, addr: string): boolean {
  return ns.exec(['ping', '-c', '1', '-W', '1', '-q', addr]).code === 0;
}

/**
 * iptables-save output compared across implementations: generated/completed comment lines and
 * program names normalised (lib/netns.ts), counters zeroed, warnings about other backends
 * dropped (the oracle and bpftables run in different namespaces, but the host may have some).
 */
export function normaliseSave(text: string): string {
  return normalise(text)
    .replace(/\[\d+:\d+\]/g, '[0:0]')
    .split('\n')
    .filter((l) => !l.startsWith('# Warning:'))
    .join('\n');
}

export function scratchDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `bpft-cli-${tag}-`));
  mkdirSync(d, { recursive: true });
  return d;
}

export function removeDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
}

/**
 * Cleanup actions run after the file's tests, last registered first, each best effort (one
 * failing does not stop the others). `timeoutMs`: the hook's own limit, for teardowns that
 * start bpftables.
 */
export function cleanupsAfterAll(timeoutMs?: number): Array<() => void> {
  const cleanups: Array<() => void> = [];
  afterAll(() => {
    for (const c of cleanups.reverse()) {
      try {
        c();
      } catch {
        // best effort
      }
    }
  }, timeoutMs);
  return cleanups;
}
