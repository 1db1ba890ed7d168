// LOG records (ring buffer) formatted as the kernel's nf_log_ipv4 prints them for iptables'
// LOG target: "<prefix>IN=eth0 OUT= MAC=... SRC=1.2.3.4 DST=... LEN=60 TOS=0x00 PREC=0x00
// TTL=64 ID=0 DF PROTO=TCP SPT=1 DPT=2 WINDOW=0 RES=0x00 SYN URGP=0". MAC is not available to
// the program (the record starts at the IP header) and is omitted.
import type { LogRecord } from './datapath.ts';

function ip4(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

const TCP_FLAGS: Array<[number, string]> = [
  [0x20, 'URG'],
  [0x10, 'ACK'],
  [0x08, 'PSH'],
  [0x04, 'RST'],
  [0x02, 'SYN'],
  [0x01, 'FIN'],
];

export function formatLogRecord(r: LogRecord): string {
  const p = r.packet;
  const parts: string[] = [`IN=${r.iif}`, `OUT=${r.oif}`];
  if (p.length < 20) return `${r.prefix}${parts.join(' ')} LEN=${r.len}`;
  const ihl = (p[0] & 15) * 4;
  const fragOff = p.readUInt16BE(6);
  parts.push(`SRC=${ip4(p, 12)}`, `DST=${ip4(p, 16)}`, `LEN=${p.readUInt16BE(2)}`);
  parts.push(`TOS=0x${(p[1] & 0x1e).toString(16).padStart(2, '0').toUpperCase()}`, `PREC=0x${(p[1] & 0xe0).toString(16).padStart(2, '0').toUpperCase()}`);
  parts.push(`TTL=${p[8]}`, `ID=${p.readUInt16BE(4)}`);
  if (fragOff & 0x8000) parts.push('CE');
  if (fragOff & 0x4000) parts.push('DF');
  if (fragOff & 0x2000) parts.push('MF');
  if (fragOff & 0x1fff) parts.push(`FRAG:${fragOff & 0x1fff}`);
  const proto = p[9];
  const l4 = p.subarray(ihl);
  const first = (fragOff & 0x1fff) === 0;
  switch (proto) {
    case 6:
      parts.push('PROTO=TCP');
      if (first && l4.length >= 20) {
        parts.push(`SPT=${l4.readUInt16BE(0)}`, `DPT=${l4.readUInt16BE(2)}`, `WINDOW=${l4.readUInt16BE(14)}`, `RES=0x${((l4[12] & 0x0f) << 2).toString(16).padStart(2, '0')}`);
        for (const [bit, name] of TCP_FLAGS) if (l4[13] & bit) parts.push(name);
        parts.push(`URGP=${l4.readUInt16BE(18)}`);
      }
      break;
    case 17:
    case 136:
      parts.push(proto === 17 ? 'PROTO=UDP' : 'PROTO=UDPLITE');
      if (first && l4.length >= 8) parts.push(`SPT=${l4.readUInt16BE(0)}`, `DPT=${l4.readUInt16BE(2)}`, `LEN=${l4.readUInt16BE(4)}`);
      break;
    case 1:
      parts.push('PROTO=ICMP');
      if (first && l4.length >= 4) {
        parts.push(`TYPE=${l4[0]}`, `CODE=${l4[1]}`);
        if ((l4[0] === 0 || l4[0] === 8) && l4.length >= 8) parts.push(`ID=${l4.readUInt16BE(4)}`, `SEQ=${l4.readUInt16BE(6)}`);
      }
      break;
    default:
      parts.push(`PROTO=${proto}`);
  }
  return `${r.prefix}${parts.join(' ')}`;
}
