// The executable's entry point. `iptables --version` is what clients run most often to probe
// the installation (kube-proxy, docker, firewalld): it is answered here (fast.ts), before the
// rest of the CLI (every extension module, the BPF loader) is loaded; anything else loads
// main.ts, which runs the command.
import { writeSync } from 'node:fs';
import { basename } from 'node:path';
import { fastPath } from './fast.ts';

const out = fastPath(process.env.BPFTABLES_ARGV0 ?? basename(process.argv[1] ?? 'iptables'), process.argv.slice(2));
if (out !== undefined) writeSync(1, out);
else await import('./main.ts');
