import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMeasured } from './child-processes.js';
import type { Contender } from './contenders.js';

/** The parts of V8's .cpuprofile (what `node --cpu-prof` writes) that self time needs. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Runs a contender under `--cpu-prof` and returns where its CPU went: the top functions by self
 * time, and self time per area (a package, node's internals, GC, bulk-import's own code), which
 * is what says whether a missed target is ours to fix or the cost of a library.
 */
export async function profileContender(c: Contender, dir: string, name: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = `${name}.cpuprofile`;
  const run = await runMeasured(
    [...c.nodeArgs, '--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', file],
    c.script,
    c.args,
    c.timeoutMs,
    c.env,
  );
  if (run.exitCode !== 0) throw new Error(`${c.label} exited ${run.exitCode ?? run.signal}: ${run.stderrTail}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  return summarizeProfile(profile, c.label, run.wallMs);
}

function summarizeProfile(p: CpuProfile, label: string, wallMs: number): string {
  const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    const f = frames.get(id);
    if (!f || f.functionName === '(idle)') return; // waiting for I/O is not CPU
    total += us;
    const where = shortUrl(f.url);
    const fn = `${f.functionName || '(anonymous)'}${where ? ` ${where}:${f.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const area = areaOf(f.functionName, where);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  });
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, us]) =>
          `| ${k.replaceAll('|', '\\|')} | ${(us / 1000).toFixed(0)} | ${((us / total) * 100).toFixed(1)} % |`,
      );
  return [
    `**${label}**: ${(total / 1e6).toFixed(2)} s on CPU (sampled, idle excluded) in ${(wallMs / 1000).toFixed(1)} s wall`,
    '',
    '| area | self ms | share |',
    '|---|--:|--:|',
    ...top(byArea, 12),
    '',
    '| function (top self time) | self ms | share |',
    '|---|--:|--:|',
    ...top(byFunction, 20),
  ].join('\n');
}

/** `node_modules/undici/lib/…`, `dist/src/…`, `node:internal/…`: short, and free of machine paths. */
function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + 1);
  const dist = path.lastIndexOf('/dist/');
  if (dist >= 0) return path.slice(dist + 1);
  return path;
}

function areaOf(fn: string, where: string): string {
  if (fn.startsWith('(')) return fn; // (garbage collector), (program): V8's own
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return pkg[1];
  if (where.startsWith('dist/src/')) return `bulk-import ${where.slice('dist/src/'.length).split('/')[0]}`;
  if (where.startsWith('node:')) return 'node internals';
  return where === '' ? 'native / builtins' : 'other';
}
