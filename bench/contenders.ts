import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One thing being measured: how to start it and what it must deliver to the sink. */
export interface Contender {
  readonly id: string;
  readonly label: string;
  readonly kind: 'bulk-import' | 'naive' | 'plain' | 'autocannon';
  readonly nodeArgs: readonly string[];
  /** Added to the child's environment (bulk-import: what its shebang sets). */
  readonly env?: Readonly<Record<string, string>>;
  readonly script: string;
  readonly args: readonly string[];
  /** Rows the sink must receive; null for autocannon, which runs for a time, not a count. */
  readonly rows: number | null;
  /** Requests the sink must receive (bulk-import and the baselines never retry against this sink). */
  readonly requests: number | null;
  /** Past this the child is killed and the run counted as failed. */
  readonly timeoutMs: number;
}

const ROOT = new URL('../../', import.meta.url); // dist/bench/ → the checkout
export const BIN = fileURLToPath(new URL('bin/bulk-import.js', ROOT));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/**
 * The node flags of bin/bulk-import.js's shebang (`#!/usr/bin/env -S node …`): `npx bulk-import`
 * honours them, so the bench must too, and reads them from the file so the two cannot drift.
 */
export function shebangNodeFlags(bin = BIN): string[] {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0];
  const words = first.replace(/^#!\s*/, '').split(/\s+/);
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  return node < 0 ? [] : words.slice(node + 1);
}

/**
 * The environment the same shebang sets (`#!/usr/bin/env -S NAME=VALUE … node …`): `npx
 * bulk-import` runs with it, so every bench's bulk-import runs must too. The bench starts `node`
 * itself, which would leave these out.
 */
export function shebangEnv(bin = BIN): Record<string, string> {
  const words = (readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '').replace(/^#!\s*/, '').split(/\s+/);
  const node = words.findIndex((w) => w === 'node' || w.endsWith('/node'));
  const env: Record<string, string> = {};
  for (const w of words.slice(0, Math.max(0, node))) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(w);
    if (m) env[m[1] as string] = m[2] as string;
  }
  return env;
}

/** How `npx bulk-import` starts node, for the reports: the shebang's environment and flags. */
export function shebangCommand(): string {
  const env = Object.entries(shebangEnv()).map(([k, v]) => `${k}=${v} `);
  return `${env.join('')}node ${shebangNodeFlags().join(' ')}`;
}

/** Timeout from a floor rate no sane run goes below: bounded, but never cutting a slow machine short. */
const timeoutFor = (rows: number, floorRowsPerSec: number) => 60_000 + Math.ceil((rows / floorRowsPerSec) * 1000);

export interface BulkImportRun {
  readonly db: string;
  readonly table: string;
  readonly to: string;
  readonly rows: number;
  /** Set when `rows` is a subset of the table. */
  readonly limit?: number;
  readonly batch: number;
  readonly concurrency: number;
  readonly sticky: 'lane' | 'off';
  readonly extraNodeArgs?: readonly string[];
}

export function bulkImport(r: BulkImportRun): Contender {
  const args = [
    'run',
    '--from',
    r.db,
    '--table',
    r.table,
    '--to',
    r.to,
    '--batch-size',
    String(r.batch),
    '--concurrency',
    String(r.concurrency),
    '--sticky',
    r.sticky,
    '--no-progress',
    '--no-checkpoint',
  ];
  if (r.limit !== undefined) args.push('--limit', String(r.limit));
  return {
    id: `bi-b${r.batch}-${r.sticky}${r.table.endsWith('_x5') ? '-x5' : ''}`,
    label: `bulk-import batch ${r.batch}, --sticky ${r.sticky}, concurrency ${r.concurrency}`,
    kind: 'bulk-import',
    nodeArgs: [...shebangNodeFlags(), ...(r.extraNodeArgs ?? [])],
    env: shebangEnv(),
    script: BIN,
    args,
    rows: r.rows,
    requests: Math.ceil(r.rows / r.batch),
    timeoutMs: timeoutFor(r.rows, 2000),
  };
}

export function naive(db: string, table: string, to: string, rows: number): Contender {
  return {
    id: 'naive',
    label: 'naive: node:http, no keep-alive, 1 row/request, 10 at a time',
    kind: 'naive',
    nodeArgs: [],
    script: here('baseline-naive.js'),
    args: [db, table, to, String(rows)],
    rows,
    requests: rows,
    timeoutMs: timeoutFor(rows, 300),
  };
}

export function plain(db: string, table: string, to: string, rows: number): Contender {
  return {
    id: 'plain',
    label: 'plain script: row objects, JSON.stringify, undici Pool, batch 100, 16 in flight',
    kind: 'plain',
    nodeArgs: [],
    script: here('baseline-plain.js'),
    args: [db, table, to, String(rows)],
    rows,
    requests: Math.ceil(rows / 100),
    timeoutMs: timeoutFor(rows, 2000),
  };
}

/** The plain script at batch 1: one row object per request, `inFlight` requests through a Pool. */
export function plainSingle(db: string, table: string, to: string, rows: number, inFlight: number): Contender {
  return {
    id: 'plain-b1',
    label: `plain script: row objects, JSON.stringify, undici Pool, batch 1, ${inFlight} in flight`,
    kind: 'plain',
    nodeArgs: [],
    script: here('baseline-plain-single.js'),
    args: [db, table, to, String(rows), String(inFlight)],
    rows,
    requests: rows,
    timeoutMs: timeoutFor(rows, 2000),
  };
}

export const AUTOCANNON_CONNECTIONS = 32;

export function autocannonCeiling(to: string, bodyFile: string, seconds: number): Contender {
  return {
    id: 'autocannon',
    label: `autocannon: 1-row POST, ${AUTOCANNON_CONNECTIONS} connections, ${seconds} s`,
    kind: 'autocannon',
    nodeArgs: [],
    script: here('autocannon-ceiling.js'),
    args: [to, bodyFile, String(AUTOCANNON_CONNECTIONS), String(seconds)],
    rows: null,
    requests: null,
    timeoutMs: 60_000 + seconds * 3000,
  };
}
