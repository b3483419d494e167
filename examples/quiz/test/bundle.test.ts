import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { AUTH, quizEnv, startQuizTables } from './local-quiz';
import { api, QuizClient, sampleQuestions } from './quiz-client';
import { freePort, startRedis, stopProcess, waitForPort } from '../../../test/support/redis-server';
import { bundleServer } from '../../shared/server-image';

// The container runs the esbuild bundle, not the TypeScript: check that the bundle itself works.
test('the bundled server the image runs plays a quiz to its summary and stops cleanly on SIGTERM', async () => {
  const outfile = bundleServer(path.join(__dirname, '..', 'server'));
  const dynamo = await startQuizTables();
  const redis = await startRedis({ password: AUTH });
  const port = await freePort();
  let proc: ChildProcess | undefined;
  try {
    proc = spawn(process.execPath, [outfile], { env: { ...process.env, ...quizEnv(redis, dynamo, { PORT: String(port), REALTIME_DRAIN_SECONDS: '1' }) }, stdio: 'ignore' });
    const exited = new Promise<number | null>(resolve => proc!.once('exit', code => resolve(code)));
    await waitForPort(port);
    const set = sampleQuestions(1);
    const host = await api.signOnHost(port);
    await api.upload(port, host.token, set);
    const me = await api.join(port, host.quizId, 'bundled');
    const player = await QuizClient.connect(port, me.token);
    const hostClient = await QuizClient.connect(port, host.token);
    await hostClient.request('HOST-CONFIG', { quizName: 'Bundle', categories: ['science'], duration: 10, selectedQuestionIndexes: [0] }, 'BROADCAST-START');
    await player.waitFor(f => f.type === 'BROADCAST-START');
    await player.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: 0 }, 'RESPONSE-PARTICIPANT-QUESTION');
    const answer = await player.request('PARTICIPANT-ANSWER', { questionIndex: 0, selectedOptionIndexes: set[0].answers }, 'RESPONSE-PARTICIPANT-ANSWER');
    expect(answer.payload.outcome).toBe('correct');
    expect((await player.waitFor(f => f.type === 'NOTIFY-PARTICIPANT-QUIZ-SUMMARY')).payload.rank).toBe(1);
    proc.kill('SIGTERM');
    expect((await player.closed).code).toBe(1012);
    expect(await exited).toBe(0);
  } finally {
    if (proc) {
      await stopProcess(proc);
    }
    await redis.stop();
    await dynamo.stop();
  }
}, 60_000);
