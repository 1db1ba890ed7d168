// Two scratch namespaces joined by one veth pair (client c0 ⇄ s0 server), and the traffic.mjs
// listener in the server: the topology of the datapath tests that compare one ruleset's
// counters between iptables-nft and bpftables.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, Scratch } from './netns.ts';

const TRAFFIC = join(ROOT, 'compat-tests', 'lib', 'traffic.mjs');

export interface Pair {
  client: Scratch;
  server: Scratch;
  listener?: ChildProcess;
}

/** Namespaces `<tag>c` / `<tag>s` with c0 = clientAddr/24 and s0 = serverAddr/24, up. */
export function vethPair(tag: string, clientAddr: string, serverAddr: string): Pair {
  const client = Scratch.create(`${tag}c`);
  const server = Scratch.create(`${tag}s`);
  const sh = (args: string[]): void => {
    const res = spawnSync('ip', args, { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`ip ${args.join(' ')}: ${res.stderr}`);
  };
  sh(['link', 'add', 'c0', 'netns', client.name, 'type', 'veth', 'peer', 'name', 's0', 'netns', server.name]);
  sh(['-n', client.name, 'addr', 'add', `${clientAddr}/24`, 'dev', 'c0']);
  sh(['-n', server.name, 'addr', 'add', `${serverAddr}/24`, 'dev', 's0']);
  sh(['-n', client.name, 'link', 'set', 'c0', 'up']);
  sh(['-n', server.name, 'link', 'set', 's0', 'up']);
  return { client, server };
}

/** Starts traffic.mjs serve in the server namespace and waits until it listens. */
export async function listenTraffic(p: Pair, ports: { udp?: number[]; tcp?: number[] }): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', p.server.name, process.execPath, TRAFFIC, 'serve', JSON.stringify(ports)], { stdio: ['ignore', 'pipe', 'inherit'] });
  p.listener = child;
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error('listener not ready')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        res();
      }
    });
  });
}

/** Stops the listener and removes both namespaces (undefined: setup failed before it existed). */
export function destroyPair(p: Pair | undefined): void {
  if (!p) return;
  p.listener?.kill('SIGTERM');
  p.listener = undefined;
  p.client.destroy();
  p.server.destroy();
}
