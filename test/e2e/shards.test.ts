import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpSink } from '../helpers/http-sink.js';
import { freshSchema, testDatabase, withClient } from '../helpers/database.js';
import { expectOneLine, runCli, startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

// Four child processes at once, each with its own sessions: the embedded server (one shared session) cannot.
const realPostgres = process.env.TEST_DATABASE_URL !== undefined;
const SHARDS = 4;
const ROWS = 6_000;
const KILL_ROWS = 40_000;

let db: Awaited<ReturnType<typeof testDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;

/** Three tables whose rows carry an `id` the sink records, keyed by an integer, a text and a composite key. */
const TABLES = {
  int: { key: 'k', ddl: 'k bigint PRIMARY KEY, id bigint NOT NULL', rows: 'i * 7 + i % 5, i' },
  text: { key: 'k', ddl: 'k text PRIMARY KEY, id bigint NOT NULL', rows: "md5(i::text) || ' é', i" },
  composite: {
    key: 'grp,name',
    ddl: 'grp int, name text, id bigint NOT NULL, PRIMARY KEY (grp, name)',
    rows: "i % 13, 'n' || i, i",
  },
} as const;

beforeAll(async () => {
  db = await testDatabase();
  schema = await freshSchema(db.url);
  await withClient(db.url, async (client) => {
    for (const [name, t] of Object.entries(TABLES)) {
      await client.query(`CREATE TABLE ${schema.qualified(name)} (${t.ddl}, pad text)`);
      await client.query(
        `INSERT INTO ${schema.qualified(name)} SELECT ${t.rows}, repeat('x', 50) FROM generate_series(1, ${ROWS}) i`,
      );
    }
    await client.query(`CREATE TABLE ${schema.qualified('nullable')} (v int)`);
    await client.query(`INSERT INTO ${schema.qualified('nullable')} VALUES (1), (2), (NULL), (4), (5)`);
    // Gapped ids, so a shard that read past its range or stopped short would show.
    await client.query(`CREATE TABLE ${schema.qualified('big')} (id bigint PRIMARY KEY, pad text)`);
    await client.query(
      `INSERT INTO ${schema.qualified('big')} SELECT i * 3, repeat('y', 50) FROM generate_series(1, ${KILL_ROWS}) i`,
    );
  });
}, 120_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

function planArgs(table: string, key: string, out: string): string[] {
  return ['plan', '--from', db.url, '--table', schema.qualified(table), '--key', key, '--shards', '4', '--out', out];
}

function shardArgs(table: string, key: string, plan: string, sink: string, k: number): string[] {
  return [
    'run',
    '--from',
    db.url,
    '--table',
    schema.qualified(table),
    '--key',
    key,
    '--to',
    sink,
    '--batch-size',
    '50',
    '--concurrency',
    '4',
    '--shard',
    `${k}/${SHARDS}`,
    '--plan',
    plan,
    '--no-progress',
  ];
}

const expectedIds = (n: number, step = 1) => Array.from({ length: n }, (_, i) => String((i + 1) * step)).sort();

describe('shards: plan, run --shard k/n --plan, status plan.json', () => {
  for (const [name, t] of Object.entries(TABLES)) {
    it.skipIf(!realPostgres)(
      `${name} key: 4 shards at once deliver every row exactly once, and status sums them`,
      async () => {
        await using dir = await tempDir();
        const plan = `${dir.path}/plan.json`;
        const made = await runCli(planArgs(name, t.key, plan), { cwd: dir.path });
        expect(made.code, made.stderr).toBe(0);
        const written = JSON.parse(await readFile(plan, 'utf8'));
        expect(written.boundaries).toHaveLength(SHARDS - 1);
        expect(written.rows).toBe(ROWS);

        await using sink = await startHttpSink({ latencyMs: 2, record: 'ids' });
        const runs = Array.from({ length: SHARDS }, (_, i) =>
          startCli(shardArgs(name, t.key, plan, sink.url, i + 1), { cwd: dir.path }),
        );
        const results = await Promise.all(runs.map((r) => r.done(120_000)));
        for (const [i, r] of results.entries()) {
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toMatch(new RegExp(`, shard ${i + 1}/4 of plan [0-9a-f]{12}`));
        }

        const ids = sink.acceptedIds();
        expect(ids.length).toBe(ROWS); // no duplicates: nothing was killed
        expect([...ids].sort()).toEqual(expectedIds(ROWS));

        // About equal row counts per shard: ntile on unique keys differs by at most one row.
        const perShard = await Promise.all(
          Array.from({ length: SHARDS }, async (_, i) => {
            const ckpt = JSON.parse(await readFile(`${dir.path}/plan.shard-${i + 1}-of-4.ckpt.json`, 'utf8'));
            expect(ckpt.complete).toBe(true);
            return ckpt.rows.delivered as number;
          }),
        );
        for (const n of perShard) expect(Math.abs(n - ROWS / SHARDS)).toBeLessThanOrEqual(1);

        const status = await runCli(['status', plan], { cwd: dir.path });
        expect(status.code, status.stderr).toBe(0);
        expect(status.stdout).toMatch(new RegExp(`^all\\s+4/4 complete\\s+${ROWS}\\s+${ROWS}\\s+0\\s+0`, 'm'));
      },
      180_000,
    );
  }

  it.skipIf(!realPostgres)(
    'a shard killed with kill -9 and resumed alone still leaves every row delivered, re-sends bounded',
    async () => {
      await using dir = await tempDir();
      const plan = `${dir.path}/plan.json`;
      const made = await runCli(planArgs('big', 'id', plan), { cwd: dir.path });
      expect(made.code, made.stderr).toBe(0);
      // A slow API, so the kill lands mid-run.
      await using sink = await startHttpSink({ latencyMs: 15, record: 'ids' });
      const runs = Array.from({ length: SHARDS }, (_, i) =>
        startCli(shardArgs('big', 'id', plan, sink.url, i + 1), { cwd: dir.path }),
      );
      // Kill shard 2 once rows flow and it has checkpointed at least once.
      const ckpt2 = `${dir.path}/plan.shard-2-of-4.ckpt.json`;
      for (const end = Date.now() + 60_000; Date.now() < end; ) {
        const c = await readFile(ckpt2, 'utf8').then(JSON.parse, () => null);
        if (c && c.rows.delivered >= 1_000) break;
        await sleep(20);
      }
      runs[1]?.child.kill('SIGKILL');
      const results = await Promise.all(runs.map((r) => r.done(180_000)));
      expect(results[1]?.signal).toBe('SIGKILL');
      for (const i of [0, 2, 3]) expect(results[i]?.code, results[i]?.stderr).toBe(0);

      const midway = await runCli(['status', plan], { cwd: dir.path });
      expect(midway.stdout).toMatch(/^2\/4\s+running or stopped/m);
      expect(midway.stdout).toMatch(/^all\s+3\/4 complete/m);

      const resumed = await runCli([...shardArgs('big', 'id', plan, sink.url, 2), '--resume'], {
        cwd: dir.path,
        timeoutMs: 180_000,
      });
      expect(resumed.code, resumed.stderr).toBe(0);

      const ids = sink.acceptedIds();
      expect(new Set(ids)).toEqual(new Set(expectedIds(KILL_ROWS, 3)));
      const resent = ids.length - KILL_ROWS;
      // What was in flight (4 lanes × 50 rows) plus one checkpoint interval's worth, with slack for a loaded machine.
      console.log(`shard kill -9: ${resent} rows re-sent`);
      expect(resent).toBeLessThanOrEqual(4 * 50 + 1_000);

      const status = await runCli(['status', plan], { cwd: dir.path });
      expect(status.code, status.stderr).toBe(0);
      // Counted once per row: the job counts sum to the table, whatever was re-sent.
      expect(status.stdout).toMatch(new RegExp(`^all\\s+4/4 complete\\s+${KILL_ROWS}\\s+${KILL_ROWS}\\s+0\\s+0`, 'm'));
    },
    300_000,
  );

  it('a plan on the embedded or real database cuts the table; status before any run says "not started"', async () => {
    await using dir = await tempDir();
    const plan = `${dir.path}/plan.json`;
    const made = await runCli(planArgs('composite', 'grp,name', plan), { cwd: dir.path });
    expect(made.code, made.stderr).toBe(0);
    const status = await runCli(['status', plan], { cwd: dir.path });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout.match(/not started/g)).toHaveLength(SHARDS);
    expect(status.stdout).toMatch(/^all\s+0\/4 complete\s+0\s+0/m);
  }, 60_000);

  it('the plan file holds the source without its password, and a run with the password matches it', async () => {
    await using dir = await tempDir();
    const plan = `${dir.path}/plan.json`;
    const url = new URL(db.url);
    url.password = 'pw-Sh4rdSecret';
    const withPassword = url.toString();
    const made = await runCli([
      'plan',
      '--from',
      withPassword,
      '--table',
      schema.qualified('int'),
      '--key',
      'k',
      '--shards',
      '2',
      '--out',
      plan,
    ]);
    expect(made.code, made.stderr).toBe(0);
    const text = await readFile(plan, 'utf8');
    expect(text).not.toContain('Sh4rdSecret');
    expect(JSON.parse(text).source).toContain(url.host);
    const args = [
      'run',
      '--from',
      withPassword,
      '--table',
      schema.qualified('int'),
      '--key',
      'k',
      '--to',
      'http://127.0.0.1:9/',
    ];
    const run = await runCli([...args, '--shard', '2/2', '--plan', plan, '--dry-run', '--no-progress'], {
      cwd: dir.path,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${ROWS / 2} rows read`));
    expect(run.stdout + run.stderr).not.toContain('Sh4rdSecret');
  }, 60_000);

  it('bad input: one line, exit 2', async () => {
    await using dir = await tempDir();
    const plan = `${dir.path}/plan.json`;
    const made = await runCli(planArgs('int', 'k', plan), { cwd: dir.path });
    expect(made.code, made.stderr).toBe(0);
    const to = 'http://127.0.0.1:9/';
    const cases: [string[], RegExp][] = [
      [[...shardArgs('int', 'k', plan, to, 1).slice(0, -5), '--shard', '5/4', '--plan', plan], /--shard must be k\/n/],
      [shardArgs('text', 'k', plan, to, 1), /plan .* is for another job: table was/],
      [shardArgs('int', 'k', `${dir.path}/missing.json`, to, 1), /cannot read plan .*missing\.json: no such file/],
      [[...shardArgs('int', 'k', plan, to, 1).slice(0, -5), '--shard', '1/3', '--plan', plan], /cuts 4 shards, not 3/],
      [
        shardArgs('int', 'k', plan, to, 1).filter((a) => a !== '--plan' && a !== plan),
        /--shard and --plan go together/,
      ],
      [['plan', '--from', db.url, '--table', schema.qualified('int'), '--key', 'k', '--shards', '0'], /--shards must/],
      // A NULL key would fall in no shard (`(v) > (…)` is never true for it).
      [['plan', '--from', db.url, '--table', schema.qualified('nullable'), '--key', 'v', '--shards', '2'], /NULL key/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { cwd: dir.path });
      expect(r.code, r.stderr).toBe(2);
      expect(expectOneLine(r.stderr)).toMatch(message);
    }
  }, 120_000);
});
