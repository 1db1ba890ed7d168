// A minimal CNI runtime (what libcni does for a conflist), enough to drive Debian's reference
// plugins unmodified: ADD runs the plugins in order feeding each the previous result; CHECK
// runs them in order with the ADD result; DEL runs them in reverse with the ADD result. The
// plugins run inside the test's "host" namespace with `iptables` resolved through PATH, whose
// first entry is the tool directory of the implementation under test.
import type { Ns, Run } from './lib.ts';

export const CNI_PATH = '/usr/lib/cni';

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [k: string]: unknown;
}

export interface Conflist {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

export interface Attachment {
  host: Ns;
  /** Path of the container's network namespace (CNI_NETNS). */
  netns: string;
  containerId: string;
  ifname: string;
  /** Directory put first on PATH (iptables, iptables-save, iptables-restore). */
  toolDir: string;
  /** runtimeConfig entries, given to plugins that declare the capability (e.g. portMappings). */
  runtimeConfig?: Record<string, unknown>;
}

export interface ChainResult {
  ok: boolean;
  /** The final result (ADD) or undefined. */
  result?: Record<string, unknown>;
  /** ADD that failed: the result of the last plugin that succeeded (what DEL needs to clean up). */
  partial?: Record<string, unknown>;
  /** The failing plugin's run. */
  failed?: { plugin: string; run: Run; error?: { code?: number; msg?: string; details?: string } };
}

function invoke(att: Attachment, command: 'ADD' | 'CHECK' | 'DEL', conf: Record<string, unknown>, type: string): Run {
  return att.host.exec([`${CNI_PATH}/${type}`], {
    input: JSON.stringify(conf),
    env: {
      ...process.env,
      PATH: `${att.toolDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
      CNI_COMMAND: command,
      CNI_CONTAINERID: att.containerId,
      CNI_NETNS: att.netns,
      CNI_IFNAME: att.ifname,
      CNI_PATH,
    },
  });
}

function pluginConf(list: Conflist, p: PluginConf, att: Attachment, prevResult: unknown): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(p.capabilities ?? {})) if (on && att.runtimeConfig && cap in att.runtimeConfig) rc[cap] = att.runtimeConfig[cap];
  if (Object.keys(rc).length) conf.runtimeConfig = rc;
  return conf;
}

function parseError(run: Run): { code?: number; msg?: string; details?: string } | undefined {
  try {
    return JSON.parse(run.stdout) as { code?: number; msg?: string; details?: string };
  } catch {
    return undefined;
  }
}

export function cniAdd(list: Conflist, att: Attachment): ChainResult {
  let prev: Record<string, unknown> | undefined;
  for (const p of list.plugins) {
    const run = invoke(att, 'ADD', pluginConf(list, p, att, prev), p.type);
    if (run.code !== 0) return { ok: false, partial: prev, failed: { plugin: p.type, run, error: parseError(run) } };
    prev = JSON.parse(run.stdout) as Record<string, unknown>;
  }
  return { ok: true, result: prev };
}

export function cniCheck(list: Conflist, att: Attachment, addResult: unknown): ChainResult {
  for (const p of list.plugins) {
    const run = invoke(att, 'CHECK', pluginConf(list, p, att, addResult), p.type);
    if (run.code !== 0) return { ok: false, failed: { plugin: p.type, run, error: parseError(run) } };
  }
  return { ok: true };
}

export function cniDel(list: Conflist, att: Attachment, addResult: unknown): ChainResult {
  for (const p of [...list.plugins].reverse()) {
    const run = invoke(att, 'DEL', pluginConf(list, p, att, addResult), p.type);
    if (run.code !== 0) return { ok: false, failed: { plugin: p.type, run, error: parseError(run) } };
  }
  return { ok: true };
}
