// Builds the bench's test frame: Ethernet + IPv4 + UDP, 60 bytes (the minimum Ethernet frame
// without FCS). The UDP checksum is 0 (allowed for IPv4: "no checksum"), the IPv4 header
// checksum is computed, so the DUT's stack accepts the frame.

export interface UdpFrame {
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** Total frame length in bytes (≥ 42). */
  length?: number;
}

function macBytes(mac: string): number[] {
  return mac.split(':').map((h) => parseInt(h, 16));
}

function ipBytes(ip: string): number[] {
  return ip.split('.').map((d) => Number(d));
}

export function udpFrame(f: UdpFrame): Buffer {
  const len = f.length ?? 60;
  const b = Buffer.alloc(len);
  Buffer.from(macBytes(f.dstMac)).copy(b, 0);
  Buffer.from(macBytes(f.srcMac)).copy(b, 6);
  b.writeUInt16BE(0x0800, 12);
  const ip = 14;
  const ipLen = len - ip;
  b[ip] = 0x45;
  b.writeUInt16BE(ipLen, ip + 2);
  b.writeUInt16BE(0x4000, ip + 6); // DF
  b[ip + 8] = 64;
  b[ip + 9] = 17;
  Buffer.from(ipBytes(f.srcIp)).copy(b, ip + 12);
  Buffer.from(ipBytes(f.dstIp)).copy(b, ip + 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(ip + i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, ip + 10);
  const udp = ip + 20;
  b.writeUInt16BE(f.srcPort, udp);
  b.writeUInt16BE(f.dstPort, udp + 2);
  b.writeUInt16BE(ipLen - 20, udp + 4);
  return b;
}
