import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU the whole machine spent, and PostgreSQL's share of it, from /proc (Linux; zeros elsewhere).
 * The bench shares two cores with the database and with whatever else runs on the box: a run's
 * "foreign" CPU (machine − client − sink − PostgreSQL) says whether it was measured on a quiet
 * machine or squeezed by something unrelated, which is the first thing to know about an outlier.
 */
export interface HostCpu {
  /** Seconds of busy CPU, all cores together, since boot. */
  readonly busy: number;
  /**
   * Seconds of CPU of every process named `postgres`, children's included: a backend that exits
   * is reaped by the postmaster, whose cutime/cstime then carry its CPU, so nothing is lost.
   */
  readonly postgres: number;
}

const TICK = 100; // USER_HZ on Linux

export function sampleHostCpu(): HostCpu {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not work.
    const busy = (cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + (cpu[7] ?? 0)) / TICK;
    let postgres = 0;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = readQuietly(`/proc/${name}/stat`);
      const close = stat.lastIndexOf(')');
      if (close < 0 || stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const f = stat.slice(close + 2).split(' '); // from field 3 (state) on: utime, stime, cutime, cstime are 14–17
      postgres += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
    }
    return { busy, postgres };
  } catch {
    return { busy: 0, postgres: 0 };
  }
}

function readQuietly(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // the process exited between readdir and read
  }
}

/**
 * Waits, at most `maxMs`, until less than `share` of the machine is busy over half a second.
 * Called between runs, when the bench's own processes are idle, so whatever is busy is foreign.
 * Returns how long it waited.
 */
export async function waitForQuiet(share: number, maxMs: number, cores: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const a = sampleHostCpu();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const b = sampleHostCpu();
    const busy = (b.busy - a.busy) / (0.5 * cores);
    if (busy < share || b.busy === 0 || Date.now() - started >= maxMs) return Date.now() - started;
  }
}
