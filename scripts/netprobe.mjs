#!/usr/bin/env node
// Tiny traffic tool for the demo and tests (no netcat on a fresh machine):
//   netprobe.mjs listen-tcp PORT            accept connections and close them (runs until killed)
//   netprobe.mjs tcp HOST PORT [ms]         connect; prints "open" or "timeout"/"refused", exit 0/1
//   netprobe.mjs listen-udp PORT            echo datagrams back
//   netprobe.mjs udp HOST PORT [ms]         send one datagram, wait for the echo: "reply" or "timeout"
import net from 'node:net';
import dgram from 'node:dgram';

const [cmd, a, b, c] = process.argv.slice(2);
const ms = Number(c ?? 1000);
if (cmd === 'listen-tcp') {
  net.createServer((s) => s.end()).listen(Number(a), '0.0.0.0');
} else if (cmd === 'tcp') {
  const s = net.connect({ host: a, port: Number(b) });
  const t = setTimeout(() => { console.log('timeout'); process.exit(1); }, Number(c ?? 1000));
  s.on('connect', () => { clearTimeout(t); console.log('open'); s.destroy(); process.exit(0); });
  s.on('error', (e) => { clearTimeout(t); console.log(e.code === 'ECONNREFUSED' ? 'refused' : e.code); process.exit(1); });
} else if (cmd === 'listen-udp') {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  s.bind(Number(a), '0.0.0.0');
} else if (cmd === 'udp') {
  const s = dgram.createSocket('udp4');
  const t = setTimeout(() => { console.log('timeout'); process.exit(1); }, ms);
  s.on('message', () => { clearTimeout(t); console.log('reply'); process.exit(0); });
  s.send(Buffer.from('probe'), Number(b), a);
} else {
  console.error('usage: netprobe.mjs listen-tcp|tcp|listen-udp|udp ...');
  process.exit(2);
}
