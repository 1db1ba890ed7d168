// Re-renders bench/results/latest.md and chart.svg from latest.json (no measuring):
//   tsx bench/report.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './lib/ns.ts';
import { writeChart, writeMarkdown, type Results } from './lib/report.ts';

const dir = join(BENCH_DIR, 'results');
const res = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as Results;
writeChart(res, join(dir, 'chart.svg'));
writeMarkdown(res, join(dir, 'latest.md'));
process.stdout.write(readFileSync(join(dir, 'latest.md'), 'utf8'));
