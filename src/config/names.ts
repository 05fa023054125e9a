/**
 * Who reports a setting decides its name in messages: the CLI says `--batch-size`, the library
 * `batchSize`, the Lambda `BATCH_SIZE`. The rules are the same; only this function differs.
 */
export type NameOf = (key: string) => string;

/** The CLI's flag for an option key: batchSize → --batch-size. */
export const flagName: NameOf = (key) =>
  key === 'header' ? '-H/--header' : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Negated flags read as the option value a library user writes instead. */
const WRITTEN_AS: Record<string, string> = { noCheckpoint: 'checkpoint: false' };

/** The library's own option names, as typed in code. */
export const optionName: NameOf = (key) => WRITTEN_AS[key] ?? key;
