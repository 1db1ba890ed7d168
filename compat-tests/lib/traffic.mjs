#!/usr/bin/env node
// Deterministic probe traffic for verdict tests (run inside scratch namespaces only).
//   traffic.mjs serve '<json {udp:[ports], tcp:[ports]}>'
//       listens on 0.0.0.0; prints one line "udp <id>" / "tcp <port>" per datagram / connection;
//       exits on SIGTERM after flushing.
//   traffic.mjs send '<json [probe...]>'
//       probe: {id, kind:'udp'|'tcp', src, dst, sport, dport} — sent one after another;
//       tcp waits up to 400 ms for the handshake (before the first SYN retransmit, so dropped
//       SYNs are counted exactly once) and then resets (RST, no FIN exchange to retransmit);
//       prints "<id> <outcome>" per probe.
import net from 'node:net';
import dgram from 'node:dgram';

const [mode, arg] = process.argv.slice(2);
const spec = JSON.parse(arg);

if (mode === 'serve') {
  const out = [];
  for (const p of spec.udp ?? []) {
    const s = dgram.createSocket('udp4');
    s.on('message', (m) => out.push(`udp ${m.toString()}`));
    s.bind(p, '0.0.0.0');
  }
  for (const p of spec.tcp ?? []) {
    // Connections are left to the client's RST: a server-side close would race with it.
    net.createServer((c) => { out.push(`tcp ${p}`); c.on('error', () => {}); }).listen(p, '0.0.0.0');
  }
  setTimeout(() => console.log('ready'), 100);
  process.on('SIGTERM', () => { process.stdout.write(out.join('\n') + '\n', () => process.exit(0)); });
} else if (mode === 'send') {
  const results = [];
  for (const p of spec) {
    if (p.kind === 'udp') {
      await new Promise((res) => {
        const s = dgram.createSocket('udp4');
        s.bind({ address: p.src, port: p.sport }, () => {
          s.send(Buffer.from(String(p.id).padStart(8, '0')), p.dport, p.dst, () => { s.close(); res(); });
        });
      });
      results.push(`${p.id} sent`);
    } else {
      const outcome = await new Promise((res) => {
        const s = net.connect({ host: p.dst, port: p.dport, localAddress: p.src, localPort: p.sport });
        const t = setTimeout(() => { s.destroy(); res('timeout'); }, 400);
        s.on('connect', () => { clearTimeout(t); s.resetAndDestroy(); res('open'); });
        s.on('error', (e) => { clearTimeout(t); res(e.code ?? 'error'); });
      });
      results.push(`${p.id} ${outcome}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  console.log(results.join('\n'));
}
