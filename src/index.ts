/**
 * bulk-import as a library: the functions the CLI, the demo and the Lambda run, for a script of
 * your own (a migration, a scheduled job). Build a config with importConfig() / forwardConfig() /
 * replayConfig() from options named as the CLI's flags (defaults and checks are the CLI's; a bad
 * value throws BulkImportError('USAGE') in one line), then run it. Results are data: rows that
 * failed for good are counted and written to the failed file, never thrown.
 *
 *   import { importConfig, runImport } from 'bulk-import';
 *   const result = await runImport(importConfig({ from, table: 'listings', to: 'https://api/listings' }));
 */
export { runImport, type RunHooks, type RunResult } from './run-import.js';
export { runForward, type ForwardHooks, type ForwardResult } from './run-forward.js';
export { replay, type ReplayHooks, type ReplayResult, type ReplayQueueResult } from './run-replay.js';
export { handler } from './lambda/handler.js';
export { runProbe, type ProbeHooks, type ProbeResult, type ProbeStep } from './probe/run-probe.js';
export { probeConfig, type ProbeConfig, type ProbeOptions } from './config/probe-config.js';
export { parseForwarderEnv } from './lambda/config.js';

export { importConfig, type ImportOptions, type RunConfig } from './config/import-config.js';
export { planShards, type PlanOptions } from './shard/plan-shards.js';
export type { ShardPlan } from './shard/shard-plan.js';
export {
  forwardConfig,
  type ForwardConfig,
  type ForwardOptions,
  type ForwarderConfig,
  type SecretRef,
} from './config/forward-config.js';
export { replayConfig, type ReplayConfig, type ReplayOptions, type ReplayQueueConfig } from './config/replay-config.js';
export type { SourceConfig, SourceOptions } from './config/source-config.js';
export type { TargetConfig, TargetOptions } from './config/target-config.js';
export type { QueueConfig, QueueOptions } from './config/queue-config.js';
export type { Count, Duration } from './config/rules.js';
export * as defaults from './config/defaults.js';

export { BulkImportError, type ErrorCode } from './errors.js';
export type { Progress, PipelineResult, StopReason, MaxFailures } from './pipeline.js';
export type { SinkReport } from './types.js';
export type { LaneReport } from './http/sticky-client.js';
export type { EnqueueCounters } from './queue/send-batch.js';
export type { LambdaContext, SqsBatchResponse, SqsEvent, SqsRecord } from './queue/sqs-event.js';
