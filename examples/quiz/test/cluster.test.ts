import Redis from 'ioredis';
import { AUTH, QUIZ_ENTRY, quizEnv, startQuizTables } from './local-quiz';
import { api, QuizClient, sampleQuestions } from './quiz-client';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisClusterProcess, startRedisCluster } from '../../../test/support/redis-server';
import { connectDynamo } from '../../kit/dynamo';
import { LocalDynamoDb } from '../../shared/local-dynamodb';
import { ResultReader } from '../server/results';

// ElastiCache Serverless is always cluster mode: the same servers on a three-node redis cluster, with
// REALTIME_BUS_CLUSTER=true (sharded pub/sub; each quiz's keys in one slot by their hash tag).
let cluster: RedisClusterProcess;
let dynamo: LocalDynamoDb;
let servers: ServerProcess[];

beforeAll(async () => {
  dynamo = await startQuizTables();
  cluster = await startRedisCluster({ password: AUTH });
  const env = quizEnv(cluster, dynamo, { REALTIME_BUS_CLUSTER: 'true' });
  servers = await Promise.all([0, 1].map(() => startServer(QUIZ_ENTRY, env)));
}, 90_000);

afterAll(async () => {
  await Promise.all((servers ?? []).map(s => s.stop()));
  await cluster?.stop();
  await dynamo?.stop();
});

test('on a cluster-mode endpoint, a quiz over two servers runs to its summaries and its results are stored and cleaned up', async () => {
  const [a, b] = servers.map(s => s.port);
  const set = sampleQuestions(3);
  const host = await api.signOnHost(a);
  await api.upload(b, host.token, set);
  const players = await Promise.all([0, 1, 2, 3].map(async k => {
    const j = await api.join(k % 2 ? a : b, host.quizId, `c${k}`);
    return QuizClient.connect(k % 2 ? b : a, j.token);
  }));
  const hostClient = await QuizClient.connect(b, host.token);
  await hostClient.request('HOST-CONFIG', { quizName: 'Cluster', categories: ['science', 'history'], duration: 20, selectedQuestionIndexes: [0, 1, 2] }, 'BROADCAST-START');
  await Promise.all(players.map(async (p, k) => {
    await p.waitFor(f => f.type === 'BROADCAST-START');
    for (let q = 0; q < 3; q++) {
      await p.request('REQUEST-PARTICIPANT-QUESTION', { questionIndex: q }, 'RESPONSE-PARTICIPANT-QUESTION');
      const r = await p.request('PARTICIPANT-ANSWER', { questionIndex: q, selectedOptionIndexes: k < 2 ? set[q].answers : [] }, 'RESPONSE-PARTICIPANT-ANSWER');
      expect(r.payload.outcome).toBe(k < 2 ? 'correct' : 'incorrect');
    }
  }));
  const summary = await hostClient.waitFor(f => f.type === 'NOTIFY-HOST-QUIZ-SUMMARY');
  expect(summary.payload.questions.map((q: any) => [q.correct, q.incorrect])).toEqual([[2, 2], [2, 2], [2, 2]]);
  expect(players[3].frames.some(f => f.type === 'LEADERBOARD' && f.payload.leaderboard.length === 4)).toBe(true);

  const db = connectDynamo(dynamo.endpoint);
  const reader = new ResultReader(db, 'results');
  const deadline = Date.now() + 15_000;
  while ((await reader.all(host.quizId)).length < 5 && Date.now() < deadline) {
    await new Promise(r => setTimeout(r, 100));
  }
  expect(await reader.all(host.quizId)).toHaveLength(5);
  db.client.destroy();
  const redis = new Redis.Cluster([{ host: '127.0.0.1', port: cluster.ports[0] }], { redisOptions: { password: AUTH } });
  const until = Date.now() + 10_000;
  while ((await redis.exists(`quiz:{${host.quizId}}:meta`)) === 1 && Date.now() < until) {
    await new Promise(r => setTimeout(r, 100));
  }
  expect(await redis.exists(`quiz:{${host.quizId}}:meta`, `quiz:{${host.quizId}}:leaderboard`)).toBe(0);
  redis.disconnect();
  await Promise.all([...players, hostClient].map(c => c.close()));
}, 90_000);
