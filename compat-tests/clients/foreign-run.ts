// Prints JSON of detectForeignRules('list') and ('save') for the calling process's network
// namespace (compat-tests/clients-foreign.test.ts runs it with `ip netns exec NS tsx ...`).
import { detectForeignRules } from '../../bin/foreign.ts';

process.stdout.write(JSON.stringify({ list: (await detectForeignRules('list')) ?? null, save: (await detectForeignRules('save')) ?? null }) + '\n');
