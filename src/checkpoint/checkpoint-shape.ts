/**
 * The whole shape of a checkpoint, checked before a run trusts it: a hand-edited or damaged file
 * must fail as one line (exit 2) that says what is wrong, not as a query error halfway through a
 * resumed run whose advice ("resume with --resume") would fail again.
 */

/** Keys that are numbers the tool made itself: byte offsets (NDJSON) and line numbers (replay). */
const NUMERIC_KEYS = new Set(['byte offset', 'line']);

const COUNTS = ['read', 'delivered', 'failed', 'skipped'] as const;

/** Undefined when `v` is a version-1 checkpoint a run can carry on from; else what is wrong. */
export function checkpointProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not a JSON object';
  if (v.version !== 1) return `unknown version ${JSON.stringify(v.version ?? null)} (this bulk-import reads version 1)`;
  if (typeof v.jobId !== 'string' || !/^[0-9a-f]{16}$/.test(v.jobId)) return '"jobId" is missing or malformed';
  const job = v.job;
  if (!isObject(job)) return '"job" is missing';
  if (typeof job.source !== 'string' || typeof job.target !== 'string')
    return '"job.source" or "job.target" is missing';
  if (!Array.isArray(job.key) || job.key.length === 0 || !job.key.every((k) => typeof k === 'string' && k !== '')) {
    return '"job.key" must be a non-empty list of column names';
  }
  if (!isCount(job.batchSize) || job.batchSize < 1) return '"job.batchSize" must be a whole number ≥ 1';
  if (job.shard !== undefined && typeof job.shard !== 'string') return '"job.shard" must be text';
  const key = job.key as string[];
  const numeric = key.length === 1 && NUMERIC_KEYS.has(key[0] as string);
  if (v.watermark !== null) {
    const bad = keyProblem(v.watermark, key.length, numeric);
    if (bad) return `"watermark" ${bad}`;
  }
  if (!isObject(v.rows) || !COUNTS.every((c) => isCount((v.rows as Record<string, unknown>)[c]))) {
    return `"rows" must hold whole-number counts ${COUNTS.join(', ')}`;
  }
  const rows = v.rows as Record<(typeof COUNTS)[number], number>;
  if (rows.delivered + rows.failed + rows.skipped !== rows.read)
    return '"rows": delivered + failed + skipped differs from read';
  if (v.ahead !== undefined) {
    if (!Array.isArray(v.ahead)) return '"ahead" must be a list';
    for (const [i, b] of v.ahead.entries()) {
      if (!isObject(b) || !isCount(b.rows)) return `"ahead[${i}]" is malformed`;
      const bad = keyProblem(b.firstKey, key.length, numeric) ?? keyProblem(b.lastKey, key.length, numeric);
      if (bad) return `"ahead[${i}]" key ${bad}`;
    }
  }
  if (typeof v.complete !== 'boolean') return '"complete" must be true or false';
  if (!isCount(v.runs)) return '"runs" must be a whole number';
  if (typeof v.startedAt !== 'string' || typeof v.updatedAt !== 'string')
    return '"startedAt" or "updatedAt" is missing';
  if (v.failedFile !== undefined && (typeof v.failedFile !== 'string' || v.failedFile === ''))
    return '"failedFile" must be a path';
  if (v.failedBytes !== undefined && !isCount(v.failedBytes)) return '"failedBytes" must be a whole number';
  if (v.changed !== undefined) {
    const bad = horizonProblem(v.changed);
    if (bad) return `"changed" ${bad}`;
  }
  if (v.catchUps !== undefined) {
    if (v.changed === undefined) return '"catchUps" without "changed"';
    if (!Array.isArray(v.catchUps)) return '"catchUps" must be a list';
    const version = (v.changed as Record<string, unknown>).type === 'version';
    for (const [i, c] of v.catchUps.entries()) {
      const bad = catchUpProblem(c, i, key.length + 1, i === v.catchUps.length - 1, version);
      if (bad) return `"catchUps[${i}]" ${bad}`;
    }
  }
  return undefined;
}

/** Catch-up keysets run on (changed, key): one value more than the job's key. */
function catchUpProblem(c: unknown, i: number, length: number, last: boolean, version: boolean): string | undefined {
  if (!isObject(c)) return 'is malformed';
  if (c.n !== i + 1) return `"n" must be ${i + 1}`;
  if (version) {
    if (!isVersion(c.from) || !isVersion(c.overlapUntil)) return '"from" or "overlapUntil" is not a version';
  } else if (!isTime(c.from) || !isTime(c.overlapUntil)) return '"from" or "overlapUntil" is not a time';
  const bad = horizonProblem(c.horizon);
  if (bad) return `"horizon" ${bad}`;
  if ((c.horizon as Record<string, unknown>).type !== (version ? 'version' : undefined))
    return '"horizon" is not of the same kind (time or version) as the copy\u2019s';
  if (c.watermark !== null) {
    const k = keyProblem(c.watermark, length, false);
    if (k) return `"watermark" ${k}`;
  }
  if (c.ahead !== undefined) {
    if (!Array.isArray(c.ahead)) return '"ahead" must be a list';
    for (const b of c.ahead) {
      if (!isObject(b) || !isCount(b.rows)) return '"ahead" is malformed';
      const k = keyProblem(b.firstKey, length, false) ?? keyProblem(b.lastKey, length, false);
      if (k) return `"ahead" key ${k}`;
    }
  }
  if (!isObject(c.rows) || !COUNTS.every((n) => isCount((c.rows as Record<string, unknown>)[n])))
    return `"rows" must hold whole-number counts ${COUNTS.join(', ')}`;
  const rows = c.rows as Record<(typeof COUNTS)[number], number>;
  if (rows.delivered + rows.failed + rows.skipped !== rows.read)
    return '"rows": delivered + failed + skipped differs from read';
  if (!isCount(c.overlapRows) || !isCount(c.runs)) return '"overlapRows" or "runs" is not a whole number';
  if (typeof c.complete !== 'boolean') return '"complete" must be true or false';
  if (!c.complete && !last) return 'is unfinished but a later catch-up exists';
  if (c.failedBytes !== undefined && !isCount(c.failedBytes)) return '"failedBytes" must be a whole number';
  return undefined;
}

function horizonProblem(h: unknown): string | undefined {
  if (!isObject(h)) return 'is malformed';
  if (typeof h.column !== 'string' || h.column === '') return 'names no column';
  if (h.type === 'version') {
    if (!isVersion(h.at) || !isVersion(h.since) || !isVersion(h.seen)) return 'has no valid horizon version';
    if (BigInt(h.at as string) > BigInt(h.since as string) || BigInt(h.since as string) > BigInt(h.seen as string))
      return 'must have at ≤ since ≤ seen';
    if (!isCount(h.overlapVersions)) return '"overlapVersions" must be a whole number';
    if (!isTime(h.takenAt)) return '"takenAt" is not a time';
    if (!isCount(h.waitedFor) || !isCount(h.stillOpen)) return '"waitedFor" or "stillOpen" is not a whole number';
    return undefined;
  }
  if (h.type !== undefined) return `has an unknown type ${JSON.stringify(h.type)}`;
  if (!isTime(h.at) || !isTime(h.since)) return 'has no valid horizon time';
  if (!isCount(h.overlapMs)) return '"overlapMs" must be a whole number';
  if (typeof h.sawAllSessions !== 'boolean') return '"sawAllSessions" must be true or false';
  return undefined;
}

/** A bigint as text, in range: a version horizon. */
function isVersion(v: unknown): boolean {
  if (typeof v !== 'string' || !/^-?\d{1,19}$/.test(v)) return false;
  const n = BigInt(v);
  return n >= -(2n ** 63n) && n < 2n ** 63n;
}

function isTime(v: unknown): boolean {
  return typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) && Number.isFinite(Date.parse(v));
}

function keyProblem(k: unknown, length: number, numeric: boolean): string | undefined {
  if (!Array.isArray(k) || !k.every((p) => typeof p === 'string')) return 'must be a list of strings or null';
  if (k.length !== length) return `has ${k.length} values for a key of ${length} column${length === 1 ? '' : 's'}`;
  if (numeric && !/^\d{1,15}$/.test(k[0] as string)) return `must be a whole number ≥ 0 (got ${JSON.stringify(k[0])})`;
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
