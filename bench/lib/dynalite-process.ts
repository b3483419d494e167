import type { ChildProcess } from 'child_process';
import * as path from 'path';
import { spawnTs } from './procs';
import { startLocalDynamoDb, TableKey } from '../../examples/shared/local-dynamodb';

/** Tables for the child to create: name to key schema. */
export type DynaliteTables = Record<string, TableKey>;

/**
 * Starts dynalite in its own process, so its CPU is measured apart from the servers' and the load
 * generator's; the child creates `tables` and reports its endpoint over IPC.
 */
export function spawnDynalite(tables: DynaliteTables, env: Record<string, string> = {}): ChildProcess {
  return spawnTs(__filename, { ...env, BENCH_DYNALITE_TABLES: JSON.stringify(tables) });
}

if (path.resolve(process.argv[1] ?? '') === __filename) {
  void (async () => {
    const db = await startLocalDynamoDb();
    const tables = JSON.parse(process.env.BENCH_DYNALITE_TABLES ?? '{}') as DynaliteTables;
    for (const [name, key] of Object.entries(tables)) {
      await db.createTable(name, key);
    }
    process.send?.({ endpoint: db.endpoint });
    const stop = () => void db.stop().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('disconnect', stop);
  })();
}
