import { usage } from '../errors.js';
import { checkQueueUrl, resolveSqsConnection, type SqsConnection } from '../queue/sqs-endpoint.js';
import { FORWARDER_DEFAULTS, IMPORT_DEFAULTS, REPLAY_QUEUE_DEFAULTS } from './defaults.js';
import type { ForwarderConfig } from './forward-config.js';
import { buildImportConfig, type RunConfig } from './import-config.js';
import { optionName, type NameOf } from './names.js';
import * as rule from './rules.js';
import type { Count } from './rules.js';
import { parseTarget, type TargetOptions } from './target-config.js';

/** `replay --queue`: one pass over a rejects or dead-letter queue, rows refused again to a file. */
export interface ReplayQueueConfig {
  readonly queueUrl: string;
  readonly connection: SqsConnection;
  readonly failed: string;
  readonly forwarder: ForwarderConfig;
  /** How long a received message stays hidden: the time its rows have to go out (or be written to `failed`). */
  readonly visibilitySeconds: number;
}

/** What replay() takes: a failed-rows file (an import of its rows) or a queue. */
export type ReplayConfig =
  | { readonly kind: 'file'; readonly run: RunConfig }
  | ({ readonly kind: 'queue' } & ReplayQueueConfig);

export interface ReplayOptions extends TargetOptions {
  /** A failed-rows file (NDJSON, as --failed writes it). Give this or `queue`. */
  file?: string;
  /** A rejects queue or a dead-letter queue of queue-mode messages. */
  queue?: string;
  sqsEndpoint?: string;
  /** Where rows that fail again go (default: <file>.again.ndjson, or replay-<queue name>.failed.ndjson). */
  failed?: string | false;
  progress?: boolean;
  /** With `queue`: seconds a received message stays hidden (default 300). */
  visibilityTimeout?: Count;
}

/** The library's way to a ReplayConfig: the CLI's checks and defaults, messages naming the options. */
export function replayConfig(options: ReplayOptions, env: NodeJS.ProcessEnv = process.env): ReplayConfig {
  return buildReplayConfig(options, env, optionName);
}

export function buildReplayConfig(o: ReplayOptions, env: NodeJS.ProcessEnv, n: NameOf): ReplayConfig {
  const { file, queue, sqsEndpoint, failed, visibilityTimeout, ...rest } = o;
  if (queue !== undefined) {
    if (file !== undefined) throw usage(`replay takes a failed-rows file or ${n('queue')}, not both`);
    return { kind: 'queue', ...replayQueueConfig(o, env, n) };
  }
  if (file === undefined) {
    throw usage(`replay needs a failed-rows file, or ${n('queue')} URL for a rejects or dead-letter queue`);
  }
  if (sqsEndpoint !== undefined) throw usage(`${n('sqsEndpoint')} needs ${n('queue')}`);
  if (visibilityTimeout !== undefined) throw usage(`${n('visibilityTimeout')} needs ${n('queue')}`);
  const again = failed ?? `${file.replace(/\.ndjson$/, '')}.again.ndjson`;
  if (again === file) throw usage(`${n('failed')} must differ from the file being replayed`);
  const base = buildImportConfig({ ...rest, from: file, checkpoint: false, failed: again }, {}, n);
  return { kind: 'file', run: Object.freeze({ ...base, source: { kind: 'failed-rows' as const, path: file } }) };
}

function replayQueueConfig(o: ReplayOptions, env: NodeJS.ProcessEnv, n: NameOf): ReplayQueueConfig {
  const queueUrl = checkQueueUrl(n('queue'), o.queue);
  const target = parseTarget(o, n);
  const name = new URL(queueUrl).pathname.split('/').filter(Boolean).at(-1) ?? 'queue';
  const failed = o.failed ?? `replay-${name}.failed.ndjson`;
  if (failed === false || failed === '') {
    throw usage(`${n('failed')} must name a file (got an empty string): rows that fail again need a place`);
  }
  return Object.freeze({
    queueUrl,
    connection: resolveSqsConnection(queueUrl, o.sqsEndpoint, env),
    failed,
    // At 1 s the forwarder's safety margin (1.5 s) leaves no time to start a request, as in `forward`.
    visibilitySeconds: rule.wholeNumber(
      n('visibilityTimeout'),
      o.visibilityTimeout ?? REPLAY_QUEUE_DEFAULTS.visibilitySeconds,
      2,
      43_200,
    ),
    forwarder: {
      target,
      batchSize: rule.wholeNumber(n('batchSize'), o.batchSize ?? IMPORT_DEFAULTS.batchSize, 1, 100_000),
      concurrency: rule.wholeNumber(n('concurrency'), o.concurrency ?? IMPORT_DEFAULTS.concurrency, 1, 1024),
      safetyMs: FORWARDER_DEFAULTS.safetyMs,
      secretHeaders: {},
    },
  });
}
