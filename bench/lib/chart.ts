// A dependency-free SVG line chart: categorical x (e.g. rule counts), log-scale y, one line per
// series; missing values (null) break the line. Small on purpose: the bench only needs panels
// side by side with a legend.

export interface Series {
  name: string;
  values: (number | null)[];
}

export interface Panel {
  title: string;
  xLabels: string[];
  yLabel: string;
  series: Series[];
}

const COLORS: Record<string, string> = {
  none: '#555555',
  'no firewall': '#555555',
  'iptables-legacy': '#d62728',
  'iptables-nft': '#ff7f0e',
  'nftables-set': '#2ca02c',
  bpftables: '#1f77b4',
};
const FALLBACK = ['#9467bd', '#8c564b', '#e377c2', '#17becf'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmtTick(v: number): string {
  if (v >= 1e6) return `${v / 1e6}M`;
  if (v >= 1e3) return `${v / 1e3}k`;
  if (v >= 1) return `${v}`;
  return v.toPrecision(1);
}

function panelSvg(p: Panel, x0: number, y0: number, w: number, h: number): string {
  const ml = 60, mr = 10, mt = 28, mb = 70;
  const pw = w - ml - mr, ph = h - mt - mb;
  const vals = p.series.flatMap((s) => s.values).filter((v): v is number => v !== null && v > 0);
  const out: string[] = [];
  out.push(`<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
  if (vals.length === 0) {
    out.push(`<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" font-size="12">no data</text>`);
    return out.join('\n');
  }
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...vals))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...vals))));
  const y = (v: number): number => y0 + mt + ph - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1)) * ph;
  const n = p.xLabels.length;
  const x = (i: number): number => x0 + ml + (n === 1 ? pw / 2 : (i / (n - 1)) * pw);
  out.push(`<rect x="${x0 + ml}" y="${y0 + mt}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(`<line x1="${x0 + ml}" x2="${x0 + ml + pw}" y1="${y(d)}" y2="${y(d)}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + ml - 4}" y="${y(d) + 4}" text-anchor="end" font-size="10">${fmtTick(d)}</text>`);
  }
  p.xLabels.forEach((l, i) => out.push(`<text x="${x(i)}" y="${y0 + mt + ph + 14}" text-anchor="middle" font-size="10">${esc(l)}</text>`));
  out.push(`<text x="${x0 + 14}" y="${y0 + mt + ph / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 ${x0 + 14} ${y0 + mt + ph / 2})">${esc(p.yLabel)}</text>`);
  p.series.forEach((s, si) => {
    const color = COLORS[s.name] ?? FALLBACK[si % FALLBACK.length];
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null || v <= 0) {
        d += ' ';
        return;
      }
      d += `${d.endsWith(' ') || d === '' ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      out.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"/>`);
    });
    const path = d.trim().replace(/\s+/g, ' ');
    if (path) out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    // Legend below the x labels, three entries per row, so it never covers a line.
    const lx = x0 + ml + (si % 3) * 105;
    const ly = y0 + mt + ph + 24 + Math.floor(si / 3) * 14;
    out.push(`<rect x="${lx}" y="${ly}" width="10" height="10" fill="${color}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly + 9}" font-size="10">${esc(s.name)}${s.values.every((v) => v === null) ? ' (n/a)' : ''}</text>`);
  });
  return out.join('\n');
}

export function chartSvg(title: string, panels: Panel[], note: string): string {
  const w = 380, h = 330;
  const W = w * panels.length, H = h + 50;
  const body = panels.map((p, i) => panelSvg(p, i * w, 24, w, h)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="15">${esc(title)}</text>
${body}
<text x="8" y="${H - 8}" font-size="10" fill="#555">${esc(note)}</text>
</svg>
`;
}
