import { readFileSync } from 'node:fs';

/**
 * The environment bin/bulk-import.js's shebang sets (`#!/usr/bin/env -S NAME=VALUE … node …`):
 * `npx bulk-import` runs with it, so the queue bench's bulk-import runs must too. The bench
 * starts `node` itself (shebangNodeFlags gives the flags), which would leave these out.
 */
export function shebangEnv(bin: string): Record<string, string> {
  const words = (readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '').replace(/^#!\s*/, '').split(/\s+/);
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  const env: Record<string, string> = {};
  for (const w of words.slice(0, Math.max(0, node))) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(w);
    if (m) env[m[1] as string] = m[2] as string;
  }
  return env;
}

/**
 * Calls `start` (which must spawn before it returns, as runMeasured does) with `env` added to
 * this process's environment, which the child inherits, and puts the environment back at once.
 */
export function withEnv<T>(env: Record<string, string>, start: () => T): T {
  const before = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return start();
  } finally {
    for (const [k, v] of before) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
