import type { Horizon } from '../source/changed-column.js';

/**
 * How the summary and `status` write horizons: the first time of a line in full ISO, a second one
 * of the same UTC day as its time of day only (`11:47:03.880Z`), a version as `version 1234`, and
 * a lag as a duration a person reads (`1m 12s`). The JSON (--summary-json, the checkpoint) keeps
 * the full values.
 */

/** A horizon's start point: where the next catch-up reads from. */
export function horizonPoint(h: Horizon): string {
  return h.type === 'version' ? `version ${h.at}` : h.at;
}

/** `from` as a catch-up line names it: a time, or `version n` when the horizon is a version's. */
export function fromPoint(from: string, h: Horizon | undefined): string {
  return h?.type === 'version' ? `version ${from}` : from;
}

/** `second` after `first` on one line: only its time of day when both are ISO times of the same UTC day. */
export function shortAfter(first: string, second: string): string {
  const iso = /^\d{4}-\d\d-\d\dT/;
  if (iso.test(first) && iso.test(second) && first.slice(0, 10) === second.slice(0, 10)) return second.slice(11);
  return second;
}

/** now − H: for a version, since the horizon was taken (a version has no time of its own). */
export function lagOf(h: Horizon, now: number): string {
  return humanDuration(now - Date.parse(h.type === 'version' ? h.takenAt : h.at));
}

/** `45s`, `1m 12s`, `2h 5m`, `3d 4h`: two units at most, whole seconds (never negative). */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}
