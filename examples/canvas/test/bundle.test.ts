import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { CanvasClient } from './canvas-client';
import { freePort, stopProcess, waitForPort } from '../../../test/support/redis-server';
import { startLocalDynamoDb } from '../../shared/local-dynamodb';
import { bundleServer } from '../../shared/server-image';
import { PLACEMENTS_TABLE_KEY } from '../server/table';

// The container runs the esbuild bundle, not the TypeScript: check that the bundle itself works.
test('the bundled server the image runs starts, takes a placement and stops cleanly on SIGTERM', async () => {
  const outfile = bundleServer(path.join(__dirname, '..', 'server'));
  const dynamo = await startLocalDynamoDb();
  await dynamo.createTable('placements', PLACEMENTS_TABLE_KEY);
  const port = await freePort();
  let proc: ChildProcess | undefined;
  try {
    proc = spawn(process.execPath, [outfile], {
      env: { ...process.env, PORT: String(port), DYNAMODB_ENDPOINT: dynamo.endpoint, CANVAS_TABLE: 'placements', CANVAS_TOKEN_SECRET: 'bundle-test-secret-value', LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>(resolve => proc!.once('exit', code => resolve(code)));
    await waitForPort(port);
    const client = new CanvasClient(port);
    const res = await client.place(await client.session(), { x: 1, y: 1, color: 4 });
    expect(res.status).toBe(200);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    if (proc) {
      await stopProcess(proc);
    }
    await dynamo.stop();
  }
});
