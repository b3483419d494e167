import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { ChatClient } from './chat-client';
import { chatEnv, startChatTables } from './local-chat';
import { freePort, stopProcess, waitForPort } from '../../../test/support/redis-server';
import { bundleServer } from '../../shared/server-image';

// The container runs the esbuild bundle, not the TypeScript: check that the bundle itself works.
test('the bundled server the image runs registers a user, stores a message and stops cleanly on SIGTERM', async () => {
  const outfile = bundleServer(path.join(__dirname, '..', 'server'));
  const dynamo = await startChatTables();
  const port = await freePort();
  let proc: ChildProcess | undefined;
  try {
    proc = spawn(process.execPath, [outfile], {
      env: {
        ...process.env,
        ...chatEnv(dynamo, { PORT: String(port), REALTIME_DRAIN_SECONDS: '1' }),
      },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>(resolve => proc!.once('exit', code => resolve(code)));
    await waitForPort(port);
    const client = await ChatClient.connect(port);
    expect((await client.register('bundled', 'bundled-password')).username).toBe('bundled');
    await client.join('general');
    const stored = await client.say('general', 'from the bundle');
    expect((await client.history('general')).messages).toEqual([stored]);
    proc.kill('SIGTERM');
    expect((await client.closed).code).toBe(1012);
    expect(await exited).toBe(0);
  } finally {
    if (proc) {
      await stopProcess(proc);
    }
    await dynamo.stop();
  }
});
