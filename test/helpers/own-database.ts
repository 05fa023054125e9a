import { randomBytes } from 'node:crypto';
import { testDatabase, withClient } from './database.js';

/**
 * A database of its own on the real server (the shared embedded one otherwise). Catch-up
 * horizons look at every open writing transaction of their database: other test files seeding
 * tables in the shared one would move them, so tests that count what a catch-up sends need
 * a database no one else writes to.
 */
export async function ownDatabase(): Promise<{ url: string; embedded: boolean; stop(): Promise<void> }> {
  const shared = await testDatabase();
  if (shared.embedded) return shared;
  const name = `bi_catchup_${process.pid}_${randomBytes(3).toString('hex')}`;
  await withClient(shared.url, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(shared.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    embedded: false,
    stop: async () => {
      await withClient(shared.url, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      await shared.stop();
    },
  };
}
