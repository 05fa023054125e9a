import { buildImportConfig, type ImportOptions, type RunConfig } from '../config/import-config.js';
import { flagName } from '../config/names.js';

export { flagName };

/**
 * The raw flags as commander hands them over (strings, booleans, repeatables): the core's
 * ImportOptions with text values, which the core's rules read the same way.
 */
export interface RunFlags extends ImportOptions {
  header?: string[];
  checkpoint?: string | false;
  failed?: string | false;
}

/** `run`'s flags → a checked, frozen RunConfig; messages name the flags. */
export function parseRunConfig(flags: RunFlags, env: NodeJS.ProcessEnv): RunConfig {
  return buildImportConfig(flags, env, flagName);
}
