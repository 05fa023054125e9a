import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLine, runCli, startCli } from '../helpers/cli.js';
import { freshSchema, withClient } from '../helpers/database.js';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';
import { ownDatabase } from '../helpers/own-database.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * --changed-column on a bigint version drawn from a sequence on every insert and update. These
 * need concurrent sessions on a real server (the embedded one has a single session): skipped
 * without TEST_DATABASE_URL.
 */
const noServer = process.env.TEST_DATABASE_URL === undefined;
const ROWS = 3000;

let db: Awaited<ReturnType<typeof ownDatabase>>;
let schema: Awaited<ReturnType<typeof freshSchema>>;

beforeAll(async () => {
  db = await ownDatabase();
  schema = await freshSchema(db.url);
}, 60_000);

afterAll(async () => {
  await schema?.drop();
  await db?.stop();
});

/** A table whose `version` a sequence sets on insert (the default) and on update (a trigger). */
async function makeTable(name: string): Promise<string> {
  const t = schema.qualified(name);
  const seq = schema.qualified(`${name}_version`);
  const fn = schema.qualified(`${name}_bump`);
  await withClient(db.url, async (c) => {
    await c.query(`CREATE SEQUENCE ${seq}`);
    await c.query(
      `CREATE TABLE ${t} (id bigint PRIMARY KEY, title text NOT NULL,
         version bigint NOT NULL DEFAULT nextval('${seq}'))`,
    );
    await c.query(
      `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN NEW.version := nextval('${seq}'); RETURN NEW; END $$`,
    );
    await c.query(`CREATE TRIGGER bump BEFORE UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    await c.query(`INSERT INTO ${t} (id, title) SELECT g, 'v1 ' || g FROM generate_series(1, ${ROWS}) g`);
    await c.query(`CREATE INDEX ON ${t} (version, id)`);
  });
  return t;
}

/** Each id's last version as the sink received it. */
function lastSeen(sink: HttpSink): Map<string, { title: string; version: string }> {
  const out = new Map<string, { title: string; version: string }>();
  for (const r of sink.requests) {
    if (r.status !== 200) continue;
    for (const row of JSON.parse(r.body) as { id: number; title: string; version: string }[])
      out.set(String(row.id), row);
  }
  return out;
}

function rowsSent(sink: HttpSink, fromRequest: number): string[] {
  return sink.requests.slice(fromRequest).flatMap((r) => r.ids);
}

async function expectLatestEverywhere(sink: HttpSink, t: string): Promise<void> {
  const table = await withClient(db.url, async (c) => {
    const res = await c.query<{ id: string; title: string }>(`SELECT id::text, title FROM ${t}`);
    return new Map(res.rows.map((r) => [r.id, r.title]));
  });
  const seen = lastSeen(sink);
  expect(seen.size).toBe(table.size);
  for (const [id, title] of table) expect(seen.get(id)?.title, `row ${id}`).toBe(title);
}

async function waitFor(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A session that opens a transaction, writes in it (drawing versions now), and commits later. */
async function openWriter(sql: string): Promise<{ commit(): Promise<void>; end(): Promise<void> }> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query('BEGIN');
  await c.query(sql);
  let open = true;
  return {
    commit: async () => {
      await c.query('COMMIT');
      open = false;
    },
    end: async () => {
      if (open) await c.query('ROLLBACK').catch(() => undefined);
      await c.end();
    },
  };
}

describe('--changed-column on a bigint version', () => {
  it.skipIf(noServer)(
    'no committed row is missed: early-drawn versions committed late, writes during a slow copy, a held-back catch-up',
    async () => {
      const t = await makeTable('listings');
      await using dir = await tempDir();
      const ckpt = `${dir.path}/v.ckpt.json`;
      await using sink = await startHttpSink({ latencyMs: 40, record: 'full' });
      const base = ['run', '--from', db.url, '--table', t, '--to', sink.url, '--batch-size', '20'];
      const args = [...base, '--concurrency', '2', '--checkpoint', ckpt, '--no-progress'];
      const exact = ['--catch-up-overlap', '0'];

      // Before the copy: a transaction draws a version for row 5, then another session draws
      // larger ones and commits. Row 5 commits only later: its version is below the largest the
      // copy sees. Without the wait, the copy would read row 5's old values and the catch-up would
      // start above its version: it would never arrive.
      const early = await openWriter(`UPDATE ${t} SET title = 'early' WHERE id = 5`);
      let copied = 0;
      try {
        await withClient(db.url, (c) => c.query(`UPDATE ${t} SET title = 'v2 ' || id WHERE id BETWEEN 20 AND 29`));
        const copy = startCli([...args, '--changed-column', 'version', ...exact]);
        await sleep(1500);
        // The copy waits for the writer open at its horizon: nothing read, nothing sent.
        expect(sink.requests.length).toBe(0);
        const committedAt = Date.now();
        await early.commit();
        await waitFor('the copy to send row 400', () => rowsSent(sink, 0).includes('400'));
        expect(Math.min(...sink.requests.map((r) => r.at))).toBeGreaterThanOrEqual(committedAt);
        // During the copy: a transaction draws a version for row 2950 (not read yet), others draw
        // larger ones and commit (inserts, rows already sent), then it commits after the copy passed 2950.
        const late = await openWriter(`UPDATE ${t} SET title = 'late' WHERE id = 2950`);
        try {
          await withClient(db.url, async (c) => {
            await c.query(`INSERT INTO ${t} (id, title) SELECT g, 'new ' || g FROM generate_series(5001, 5010) g`);
            await c.query(`UPDATE ${t} SET title = 'v3 ' || id WHERE id BETWEEN 10 AND 14`);
          });
          await waitFor('the copy to pass row 2960', () => rowsSent(sink, 0).includes('2960'));
          await late.commit();
        } finally {
          await late.end();
        }
        const r = await copy.done(120_000);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/horizon: version \d+ \(version\); send what changed since with --catch-up/);
        copied = sink.requests.length;
        expect(lastSeen(sink).get('5')?.title).toBe('early');
        expect(lastSeen(sink).get('2950')?.title).toBe('v1 2950');
      } finally {
        await early.end();
      }
      const copyHorizon = JSON.parse(await readFile(ckpt, 'utf8')).changed;
      expect(copyHorizon).toMatchObject({ type: 'version', waitedFor: 1, stillOpen: 0, overlapVersions: 0 });

      // Catch-up 1, while a writer that drew a version before it stays open past --catch-up-wait:
      // its horizon is held back at the copy's, and says so.
      const held = await openWriter(`UPDATE ${t} SET title = 'held' WHERE id = 7`);
      let afterFirst = 0;
      try {
        await withClient(db.url, (c) => c.query(`UPDATE ${t} SET title = 'v4 ' || id WHERE id BETWEEN 100 AND 104`));
        const first = await runCli([...args, '--catch-up', ...exact, '--catch-up-wait', '1s'], { timeoutMs: 120_000 });
        expect(first.code).toBe(0);
        expect(expectOneLine(first.stderr)).toMatch(
          new RegExp(
            `^warning: the horizon is held back: 1 transaction that has written \\(pid \\d+\\) open when it was taken still is after --catch-up-wait 1s; the next catch-up starts at version ${copyHorizon.since} again$`,
          ),
        );
        // 2950, 5001–5010, 10–14 (changed during the copy), 100–104 (just now): not row 7, uncommitted.
        const expected = ['2950', ...range(5001, 5010), ...range(10, 14), ...range(100, 104)];
        expect(rowsSent(sink, copied).sort()).toEqual(expected.sort());
        expect(first.stdout).toMatch(
          /catch-up 1: 21 rows changed since version \d+ \(horizon now version \d+, lag \d+s\); 0 rows re-sent/,
        );
        afterFirst = sink.requests.length;
        await held.commit();
      } finally {
        await held.end();
      }
      const c1 = JSON.parse(await readFile(ckpt, 'utf8')).catchUps[0];
      expect(c1.horizon).toMatchObject({ since: copyHorizon.since, stillOpen: 1 });

      // Catch-up 2 starts at the held-back horizon: row 7 arrives; the 21 rows catch-up 1 sent are
      // sent again, counted as such, and so is row 7: its version is below the largest catch-up 1
      // could send (the count is of rows catch-up 1 may have sent, an upper bound).
      const second = await runCli([...args, '--catch-up', ...exact], { timeoutMs: 120_000 });
      expect(second.code).toBe(0);
      expect(second.stderr).toBe('');
      expect(second.stdout).toMatch(/catch-up 2: 22 rows changed since .*; 22 rows re-sent inside the overlap/);
      expect(rowsSent(sink, afterFirst).sort()).toContain('7');
      await expectLatestEverywhere(sink, t);

      // Nothing changed since: the third sends nothing.
      const before = sink.requests.length;
      const third = await runCli([...args, '--catch-up', ...exact], { timeoutMs: 120_000 });
      expect(third.code).toBe(0);
      expect(third.stdout).toMatch(/catch-up 3: 0 rows changed since/);
      expect(sink.requests.length).toBe(before);

      const status = await runCli(['status', ckpt]);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/copy {5}horizon version \d+ on version \(lag [\dhms ]+\)/);
      expect(status.stdout).toMatch(
        /catch-up 2: 22 rows changed since version \d+ .*; horizon version \d+ \(lag [\dhms ]+\)/,
      );
    },
    240_000,
  );

  // No concurrent session here: this one runs on the embedded server too.
  it('the default overlap of 1000 versions: a catch-up re-sends the rows of the last 1000 versions, counted', async () => {
    const t = await makeTable('overlapped');
    await using dir = await tempDir();
    await using sink = await startHttpSink({ record: 'ids' });
    const args = ['run', '--from', db.url, '--table', t, '--to', sink.url, '--no-progress'];
    const flags = ['--checkpoint', `${dir.path}/o.ckpt.json`, '--changed-column', 'version'];
    expect((await runCli([...args, ...flags])).code).toBe(0);
    const copied = sink.acceptedIds().length;
    await withClient(db.url, (c) => c.query(`UPDATE ${t} SET title = 'v2' WHERE id <= 3`));
    const up = await runCli([...args, ...flags, '--catch-up']);
    expect(up.code).toBe(0);
    // Versions 2001–3000 (rows 2001–3000) inside the overlap, and the 3 rows changed.
    expect(up.stdout).toMatch(
      /catch-up 1: 1,003 rows changed since version 2001 .*; 1000 rows re-sent inside the overlap/,
    );
    expect(new Set(sink.acceptedIds().slice(copied)).size).toBe(1003);
  }, 60_000);

  it.skipIf(noServer)(
    'kill -9 during a version catch-up, then --catch-up again: every changed row arrives, re-sends bounded',
    async () => {
      const t = await makeTable('killed');
      await using dir = await tempDir();
      const ckpt = `${dir.path}/k.ckpt.json`;
      await using sink = await startHttpSink({ latencyMs: 30, record: 'full' });
      const base = ['run', '--from', db.url, '--table', t, '--to', sink.url, '--batch-size', '20'];
      const args = [...base, '--concurrency', '2', '--checkpoint', ckpt, '--no-progress'];
      const copy = await runCli([...args, '--changed-column', 'version', '--catch-up-overlap', '0'], {
        timeoutMs: 120_000,
      });
      expect(copy.code).toBe(0);
      await withClient(db.url, (c) => c.query(`UPDATE ${t} SET title = 'v2 ' || id WHERE id % 2 = 0`));
      const copied = sink.requests.length;
      const cli = startCli([...args, '--catch-up', '--catch-up-overlap', '0']);
      await waitFor('the catch-up to send 300 rows', () => rowsSent(sink, copied).length >= 300);
      cli.child.kill('SIGKILL');
      expect((await cli.done()).signal).toBe('SIGKILL');
      await sleep(200); // a request whose body was on its way when the process died
      const sentAtKill = rowsSent(sink, copied).length;
      const killed = JSON.parse(await readFile(ckpt, 'utf8'));
      expect(killed.catchUps[0].complete).toBe(false);
      // Rows change again while the catch-up is down: a later version of rows maybe already sent.
      await withClient(db.url, (c) => c.query(`UPDATE ${t} SET title = 'v3' WHERE id IN (2, 4)`));
      const again = await runCli([...args, '--catch-up', '--catch-up-overlap', '0'], { timeoutMs: 120_000 });
      expect(again.code).toBe(0);
      // The resumed catch-up keeps its horizon (taken before the kill): rows 2 and 4 changed after
      // it, so they may or may not be read now; the next catch-up sends them for sure.
      expect(again.stdout).toMatch(/catch-up 1: 1,50[0-2] rows changed since version/);
      const sent = rowsSent(sink, copied);
      const resent = sent.length - new Set(sent).size;
      // Sent again: only what had arrived but the checkpoint had not recorded when the process
      // died (plus rows 2 and 4, changed since). Whatever the box's load, never more.
      const unrecorded = sentAtKill - killed.catchUps[0].rows.delivered;
      console.log(`version catch-up kill -9: ${resent} rows re-sent; ${unrecorded} had arrived unrecorded`);
      expect(resent).toBeLessThanOrEqual(unrecorded + 2);
      // And the checkpoint kept up: it had recorded rows, and lagged by less than the rows in flight
      // (2 × 20) plus one second at the sink's top rate (2 lanes × 20 rows per 30 ms), even on a busy box.
      expect(killed.catchUps[0].rows.delivered).toBeGreaterThan(0);
      expect(unrecorded).toBeLessThanOrEqual(40 + 1333);
      const firstUp = sink.requests.length;
      const next = await runCli([...args, '--catch-up', '--catch-up-overlap', '0'], { timeoutMs: 120_000 });
      expect(next.code).toBe(0);
      await expectLatestEverywhere(sink, t);
      // Idempotency keys within catch-up 1: a batch sent again after the kill is the same request
      // (same key); a row's later version is a new one (a key not used before). Catch-up 2 is a
      // request of its own even for the same rows (rows 2 and 4 again: it starts below them).
      const keyOf = new Map<string, string>();
      const keys = new Set<string>();
      let repeats = 0;
      for (const r of sink.requests.slice(copied, firstUp)) {
        const key = String(r.headers['idempotency-key']);
        const body = keyOf.get(r.body);
        if (body !== undefined) {
          expect(key).toBe(body);
          repeats++;
        }
        const carriesV3 = (JSON.parse(r.body) as { title: string }[]).some((row) => row.title === 'v3');
        if (carriesV3 && body === undefined) expect(keys.has(key), `key ${key} reused for a new version`).toBe(false);
        keyOf.set(r.body, key);
        keys.add(key);
      }
      expect(repeats).toBeGreaterThan(0);
      const done = JSON.parse(await readFile(ckpt, 'utf8'));
      expect(done.catchUps[0]).toMatchObject({ n: 1, complete: true, runs: 2 });
    },
    240_000,
  );

  it.skipIf(noServer)(
    'refuses a text or numeric version column, an overlap given as a duration, and a copy whose writers stay open: one line, exit 2, nothing sent',
    async () => {
      const t = await makeTable('bad');
      await withClient(db.url, async (c) => {
        await c.query(`ALTER TABLE ${t} ADD COLUMN version_text text NOT NULL DEFAULT '1'`);
        await c.query(`ALTER TABLE ${t} ADD COLUMN version_num numeric NOT NULL DEFAULT 1`);
      });
      await using sink = await startHttpSink({ record: 'ids' });
      const base = ['run', '--from', db.url, '--table', t, '--to', sink.url, '--no-checkpoint', '--no-progress'];
      const text = await runCli([...base, '--changed-column', 'version_text']);
      expect(text.code).toBe(2);
      expect(expectOneLine(text.stderr)).toMatch(
        /--changed-column version_text: the column is text; catch-up needs timestamp, timestamptz or a bigint version/,
      );
      const num = await runCli([...base, '--changed-column', 'version_num']);
      expect(num.code).toBe(2);
      expect(expectOneLine(num.stderr)).toMatch(/the column is numeric/);
      const unit = await runCli([...base, '--changed-column', 'version', '--catch-up-overlap', '30s']);
      expect(unit.code).toBe(2);
      expect(expectOneLine(unit.stderr)).toMatch(
        /--catch-up-overlap 30s: --changed-column version holds versions; give a whole number of versions/,
      );
      const writer = await openWriter(`UPDATE ${t} SET title = 'open' WHERE id = 1`);
      try {
        const open = await runCli([...base, '--changed-column', 'version', '--catch-up-wait', '500ms']);
        expect(open.code).toBe(2);
        expect(expectOneLine(open.stderr)).toMatch(
          /--changed-column version: after --catch-up-wait 500ms, 1 transaction that has written \(pid \d+\) still open since before the copy: end it, or raise --catch-up-wait; nothing was read/,
        );
        // A stop during the wait ends the run at once, before it reads.
        const stopped = startCli([...base, '--changed-column', 'version', '--catch-up-wait', '1m']);
        // Stopped once it is seen waiting (its look at pg_locks), not after a guessed second: on a
        // loaded machine node's own start took longer, and the SIGINT came before the run trapped it.
        for (let tries = 0; tries < 200 && !(await waitingAtHorizon(db.url)); tries++) await sleep(100);
        const at = Date.now();
        stopped.child.kill('SIGINT');
        const s = await stopped.done(10_000);
        expect(Date.now() - at).toBeLessThan(3000);
        expect(s.code).toBe(130);
        expect(s.stderr).toMatch(
          /^bulk-import: --changed-column version: stopped while the horizon waited for 1 transaction that has written \(pid \d+\); nothing was read$/m,
        );
      } finally {
        await writer.end();
      }
      expect(sink.counts.rows).toBe(0);
    },
    60_000,
  );

  it.skipIf(noServer)(
    'sees the writers of other users without pg_read_all_stats (a version horizon needs no privilege)',
    async () => {
      const t = await makeTable('unprivileged');
      const role = `bi_cuv_${process.pid}`;
      await withClient(db.url, async (c) => {
        await c.query(`CREATE ROLE ${role} LOGIN`);
        await c.query(`GRANT USAGE ON SCHEMA "${schema.schema}" TO ${role}`);
        await c.query(`GRANT SELECT ON ${t} TO ${role}`);
      });
      const url = new URL(db.url);
      url.username = role;
      url.password = '';
      const writer = await openWriter(`UPDATE ${t} SET title = 'open' WHERE id = 1`);
      try {
        await using sink = await startHttpSink({ record: 'ids' });
        const args = ['run', '--from', url.toString(), '--table', t, '--to', sink.url, '--no-checkpoint'];
        const r = await runCli([...args, '--no-progress', '--changed-column', 'version', '--catch-up-wait', '300ms']);
        expect(r.code).toBe(2);
        expect(expectOneLine(r.stderr)).toMatch(
          /1 transaction that has written \(pid \d+\) still open since before the copy/,
        );
        expect(sink.counts.rows).toBe(0);
        await writer.commit();
        const ok = await runCli([...args, '--no-progress', '--changed-column', 'version', '--catch-up-wait', '300ms']);
        expect(ok.code).toBe(0);
        expect(ok.stderr).toBe('');
      } finally {
        await writer.end();
        await withClient(db.url, async (c) => {
          await c.query(`DROP OWNED BY ${role}`);
          await c.query(`DROP ROLE ${role}`);
        });
      }
    },
    60_000,
  );
});

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => String(from + i));
}

/** Whether a bulk-import session of this database is running its look at pg_locks (the horizon's wait). */
async function waitingAtHorizon(url: string): Promise<boolean> {
  return withClient(url, async (c) => {
    const res = await c.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'bulk-import' AND query LIKE '%pg_locks%'`,
    );
    return Number(res.rows[0]?.n) > 0;
  });
}
