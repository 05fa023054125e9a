import type pg from 'pg';
import { parseQualifiedName, qualifiedTable, quoteIdent } from '../../source/sql.js';

/**
 * Test and demo data. Table names use the CLI's `--table` syntax (`listings`, `s.listings`,
 * `"My Schema"."Listings"`) and are quoted here, so a name the CLI accepts is seeded exactly as
 * the CLI will read it. Everything is plain SQL that both PostgreSQL 15+ and pglite run.
 */

export interface SeedListingsOptions {
  /** `--table` syntax; quoted here. An existing table is filled, not replaced. */
  readonly table: string;
  readonly rows: number;
  /** First id (default 1); ids are startId … startId + rows - 1 and must not exist yet. */
  readonly startId?: number;
  /** Rows per INSERT statement (default 100,000). */
  readonly chunkRows?: number;
}

// Word lists indexed by arithmetic on the id: rows are deterministic (a rerun or another engine
// produces the same data) and cheap to make, with no random() and no per-row subquery.
const ADJECTIVES = ['Sunny', 'Cosy', 'Spacious', 'Renovated', 'Quiet', 'Modern', 'Charming', 'Bright'];
const KINDS = ['studio', 'flat', 'loft', 'apartment', 'townhouse', 'penthouse', 'cottage'];
const CITIES = ['Zürich', 'Kraków', 'São Paulo', 'Malmö', 'Lyon', 'Porto', 'Leeds', 'Gdańsk', 'Cork', 'Brno', 'Tartu'];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'GBP', 'USD', 'CHF', 'PLN'];
const TAGS = ['balcony', 'garden', 'lift', 'pets', 'parking', 'furnished', 'view', 'quiet', 'new', 'garage', 'storage'];
// Descriptions are runs of whole sentences from this text.
const PROSE =
  'Light-filled home on a tree-lined street. A short walk from the station, shops and the river. ' +
  'The open kitchen has new appliances and plenty of storage. The living room gets the evening sun. ' +
  'Bedrooms are quiet and face the courtyard. Heating and hot water are included in the service charge. ' +
  'Fast fibre internet is already connected. A shared roof terrace looks over the old town. ' +
  'Bikes can be kept in the locked cellar. Available from next month, viewings most evenings and weekends. ' +
  'No agency fees for tenants.';

const textArray = (words: readonly string[]) =>
  `ARRAY[${words.map((w) => `'${w.replaceAll("'", "''")}'`).join(', ')}]::text[]`;
const pick = (words: readonly string[], expr: string) => `(${textArray(words)})[1 + (${expr}) % ${words.length}]`;

// [1-based start, length] of every run of whole sentences 150–250 characters long (17 of them).
const WINDOWS = [...PROSE.matchAll(/(?<=^|\. )[A-Z]/g)]
  .flatMap((a) => [...PROSE.matchAll(/\.(?= |$)/g)].map((b) => [a.index + 1, b.index - a.index + 1] as const))
  .filter(([, len]) => len >= 150 && len <= 250);

/**
 * Makes `listings` if missing and fills it with `INSERT … SELECT FROM generate_series`, one
 * statement per chunk (not one per row: a million rows take seconds, not minutes), then ANALYZEs
 * so `pg_class.reltuples` is right on pglite, which has no autovacuum.
 * Average `row_to_json(t)::text` is about 520 bytes (450–590): the eleven keys, two ISO timestamps
 * and a 150–250 character description add up to that much; without the description it is ~320.
 */
export async function seedListings(client: pg.ClientBase, opts: SeedListingsOptions): Promise<void> {
  const table = qualifiedTable(opts.table);
  const first = opts.startId ?? 1;
  const chunk = opts.chunkRows ?? 100_000;
  await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
    id bigint PRIMARY KEY, title text NOT NULL, description text NOT NULL, price numeric(12,2) NOT NULL,
    currency text NOT NULL, bedrooms int NOT NULL, tags text[] NOT NULL, attributes jsonb NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, active boolean NOT NULL)`);
  const window = (i: 0 | 1) => `(ARRAY[${WINDOWS.map((w) => w[i]).join(', ')}])[c.w]`;
  const insert = `INSERT INTO ${table}
    SELECT g.id,
      ${pick(ADJECTIVES, 'g.id')} || ' ' || ${pick(KINDS, 'g.id / 8')} || ' in ' || ${pick(CITIES, 'g.id / 3')},
      substr('${PROSE.replaceAll("'", "''")}', ${window(0)}, ${window(1)}),
      (40000 + (g.id * 7919) % 960000 + (g.id % 100) / 100.0)::numeric(12,2),
      ${pick(CURRENCIES, 'g.id / 5')},
      (g.id * 13 % 6)::int,
      (${textArray(TAGS)})[1 + (g.id % 9)::int : 1 + (g.id % 9)::int + (g.id / 9 % 3)::int],
      jsonb_build_object('sqm', 20 + g.id % 180, 'floor', g.id % 12, 'energy', chr(65 + (g.id % 7)::int),
        'parking', g.id % 3 = 0),
      c.at, c.at + ((g.id * 11) % 9000) * interval '1 hour', g.id % 10 <> 0
    FROM generate_series($1::bigint, $2::bigint) AS g(id)
    CROSS JOIN LATERAL (SELECT timestamptz '2019-01-01 00:00:00+00'
      + ((g.id * 7919) % 157680000) * interval '1 second'
      + ((g.id * 104729) % 1000000) * interval '1 microsecond' AS at,
      1 + (g.id * 37 % ${WINDOWS.length})::int AS w) c`;
  for (let lo = first; lo < first + opts.rows; lo += chunk) {
    const hi = Math.min(lo + chunk, first + opts.rows) - 1;
    // Same statement text every chunk, only the bounds change.
    await client.query(insert, [String(lo), String(hi)]);
  }
  await client.query(`ANALYZE ${table}`);
}

/**
 * Replaces `table` with one row per case that tends to break a JSON round trip: int8 above 2^53,
 * 30-digit numerics, NaN and ±Infinity, unicode and control characters, microsecond timestamps,
 * an enum (created next to the table, named `<table>_mood`) and a row of NULLs.
 * Column `n` orders the rows; compare with what `row_to_json(t)::text` returns, not with literals,
 * and in a session with the product's settings (ISO DateStyle, IntervalStyle postgres, UTC):
 * timestamptz and interval text depend on them. Both engines then render every row the same.
 */
export async function seedTypes(client: pg.ClientBase, table: string): Promise<void> {
  const parts = parseQualifiedName(table);
  const name = qualifiedTable(table);
  const mood = [...parts.slice(0, -1), `${parts.at(-1)}_mood`].map(quoteIdent).join('.');
  await client.query(`DROP TABLE IF EXISTS ${name}`);
  await client.query(`DROP TYPE IF EXISTS ${mood}`);
  await client.query(`CREATE TYPE ${mood} AS ENUM ('sad', 'ok', 'happy', 'très "content"')`);
  await client.query(`CREATE TABLE ${name} (
    n int PRIMARY KEY, i2 int2, i4 int4, i8 int8, num numeric, num30 numeric(30,10), r real, d double precision,
    txt text, vc varchar(20), ch char(4), b boolean, dt date, tm time, ts timestamp, tstz timestamptz, iv interval,
    u uuid, j json, jb jsonb, by bytea, ia int[], ta text[], mood ${mood})`);
  const insert = `INSERT INTO ${name} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
    $16, $17, $18, $19, $20, $21, $22, $23, $24)`;
  // Values go as text parameters, cast by the server from the column types: the test data never
  // passes through a JS number or Date, which could not hold most of these values anyway.
  const rows: (string | null)[][] = [
    [
      '1',
      '1',
      '42',
      '9007199254740993',
      '3.14',
      '12345678901234567890.1234567890',
      '1.5',
      '0.1',
      'plain',
      'short',
      'ab',
      'true',
      '2024-02-29',
      '23:59:59.999999',
      '2024-02-29 12:34:56.123456',
      '2024-02-29 12:34:56.123456+00',
      '1 year 2 mons 3 days 04:05:06.789',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      '{"b": 1, "a": [1, 2.50, null]}',
      '{"b": 1, "a": [1, 2.50, null]}',
      '\\x00ff10',
      '{1,2,NULL,-3}',
      '{"a","b c","d,e",NULL,"\\"q\\""}',
      'happy',
    ],
    [
      '2',
      '-32768',
      '-2147483648',
      '-9223372036854775808',
      '-0.000000000000000000000000000001',
      '-99999999999999999999.9999999999',
      'NaN',
      'Infinity',
      'Crème brûlée 🍰 東京 naïve ﬁ',
      'ÆØÅ',
      'x',
      'false',
      '0001-01-01',
      '00:00:00',
      '1970-01-01 00:00:00',
      '1999-12-31 23:59:59.999999-08',
      '-1 days -00:00:00.000001',
      '00000000-0000-0000-0000-000000000000',
      '[]',
      '{}',
      '\\x',
      '{}',
      '{}',
      'sad',
    ],
    [
      '3',
      '32767',
      '2147483647',
      '9223372036854775807',
      '1e-20',
      '0',
      '-Infinity',
      '-1.7976931348623157e308',
      'tab\there\nnewline\r\u0001 back\\slash "quote" \'apos\' \u2028 \u{1F600}',
      '',
      '    ',
      null,
      '9999-12-31',
      '12:00:00',
      '2038-01-19 03:14:07.5',
      '2262-04-11 23:47:16.854775+00',
      '0',
      null,
      '"just a string \\u00e9"',
      '{"nested": {"deep": [true, false, {"x": "\\u0001"}]}, "emoji": "🎉"}',
      '\\xdeadbeef',
      '{{1,2},{3,4}}',
      '{"日本語","Ünïcödé","",NULL}',
      'très "content"',
    ],
    ['4', ...Array<null>(23).fill(null)],
  ];
  for (const row of rows) await client.query(insert, row);
}
