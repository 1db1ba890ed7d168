// Runs one pcn-iptables command through bin/pcn.ts in the calling process's network namespace
// (compat-tests/clients-pcn.test.ts starts it with `ip netns exec NS tsx pcn-run.ts <cmd>`), until
// bin/main.ts dispatches the pcn-* names itself. `pins` prints this namespace's pin directory
// and whether it exists.
import { existsSync } from 'node:fs';
import { PCN_COMMANDS } from '../../bin/pcn.ts';

const cmd = process.argv[2] ?? '';
if (cmd === 'pins') {
  const { pinDir } = await import('../../bpf/loader/api.ts');
  const dir = pinDir(undefined, false) ?? '';
  process.stdout.write(`${dir} ${dir && existsSync(dir) ? 'present' : 'absent'}\n`);
} else {
  const run = PCN_COMMANDS[cmd];
  if (!run) {
    process.stderr.write(`pcn-run: unknown command ${cmd}\n`);
    process.exit(2);
  }
  await run();
}
