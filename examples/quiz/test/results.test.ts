import { spawn } from 'child_process';
import Redis from 'ioredis';
import { AUTH, quizEnv, startQuizSystem, startQuizTables, WRITE_RESULTS_ENTRY } from './local-quiz';
import { sampleQuestions } from './quiz-client';
import { startRedis, RedisProcess } from '../../../test/support/redis-server';
import { connectDynamo, Dynamo } from '../../kit/dynamo';
import { LocalDynamoDb } from '../../shared/local-dynamodb';
import { allQuizKeys, PENDING_RESULTS_KEY } from '../server/keys';
import { QuestionSetStore } from '../server/question-sets';
import { correctFraction } from '../server/questions';
import { buildResults, ResultReader, ResultWriter, WriterStep } from '../server/results';
import { QuizStore } from '../server/store';


let redis: RedisProcess;
let dynamo: LocalDynamoDb;
let client: Redis;
let store: QuizStore;
let db: Dynamo;
let sets: QuestionSetStore;
let reader: ResultReader;

beforeAll(async () => {
  dynamo = await startQuizTables();
  redis = await startRedis({ password: AUTH });
  client = new Redis(redis.url, { password: AUTH });
  store = new QuizStore(client, 3600);
  db = connectDynamo(dynamo.endpoint);
  sets = new QuestionSetStore(db, 'question-sets', 3600);
  reader = new ResultReader(db, 'results');
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  db?.client.destroy();
  await redis?.stop();
  await dynamo?.stop();
});

let counter = 0;

/** A finished quiz of `participants` (its question set stored, its Redis keys present), as a server leaves it. */
async function finishedQuiz(participants: number): Promise<string> {
  const quizId = `res${String(++counter).padStart(5, '0')}`;
  const questions = sampleQuestions(3);
  await store.create(quizId);
  await sets.put(quizId, questions);
  for (let p = 0; p < participants; p++) {
    await store.join(quizId, `user-${String(p).padStart(7, '0')}`, `player ${p}`, 'join');
  }
  expect((await store.start(quizId, 'Stored', ['science', 'history'], 10_000, questions)).status).toBe('ok');
  for (let p = 0; p < participants; p++) {
    for (let q = 0; q < 3; q++) {
      const selected = (p + q) % 2 === 0 ? questions[q].answers : [(questions[q].answers[0] + 1) % 4];
      const fraction = correctFraction(questions[q].answers, selected);
      expect((await store.step(quizId, `user-${String(p).padStart(7, '0')}`, 'answer', q, fraction, fraction === 1 ? 'correct' : 'incorrect', selected)).status).toBe('ok');
    }
  }
  await store.fileResults(quizId);
  expect(await store.finish(quizId)).toBeGreaterThan(0);
  return quizId;
}

/** Runs the results tool as its own process; with `stopAfter` it kills itself (SIGKILL) after that step. */
function runWriter(quizId: string, stopAfter?: WriterStep): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise(resolve => {
    // Node itself runs the tool (tsx as a loader), so the kill ends the very process we wait on.
    const proc = spawn(process.execPath, ['--import', 'tsx', WRITE_RESULTS_ENTRY, quizId], {
      env: { ...process.env, ...quizEnv(redis, dynamo), ...(stopAfter ? { QUIZ_WRITER_STOP_AFTER: stopAfter } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', d => { out += d; });
    proc.stderr.resume();
    proc.once('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

async function redisKeys(quizId: string): Promise<number> {
  return client.exists(...allQuizKeys(quizId));
}

describe('results are stored exactly once', () => {
  test('a writer run twice stores every item once; the second run finds nothing left to do', async () => {
    const quizId = await finishedQuiz(12);
    const expected = buildResults(quizId, (await store.snapshot(quizId))!);
    const first = await runWriter(quizId);
    expect(JSON.parse(first.out)).toEqual({ status: 'stored', written: 13, alreadyStored: 0 });
    const second = await runWriter(quizId);
    expect(JSON.parse(second.out)).toEqual({ status: 'gone', written: 0, alreadyStored: 0 });
    const items = await reader.all(quizId);
    expect(items).toHaveLength(13);
    expect(await reader.quiz(quizId)).toEqual(expected.quiz);
    for (const p of expected.participants) {
      expect(await reader.participant(quizId, p.userId)).toEqual({ quizId, ...p });
    }
    expect(await redisKeys(quizId)).toBe(0);
    expect(await sets.get(quizId)).toBeUndefined();
    expect(await client.zscore(PENDING_RESULTS_KEY, quizId)).toBeNull();
  }, 60_000);

  test('two writers at the same time store each item once between them', async () => {
    const quizId = await finishedQuiz(20);
    const writer = () => new ResultWriter(store, sets, db, 'results');
    const outcomes = await Promise.all([writer().write(quizId), writer().write(quizId)]);
    expect(outcomes.reduce((sum, o) => sum + o.written, 0)).toBe(21);
    expect(await reader.all(quizId)).toHaveLength(21);
  }, 60_000);

  test.each<[WriterStep, { written: number; alreadyStored: number } | 'gone', number]>([
    ['participants', { written: 1, alreadyStored: 8 }, 1],
    ['quiz', { written: 0, alreadyStored: 9 }, 1],
    ['question-set', { written: 0, alreadyStored: 9 }, 1],
    ['redis', 'gone', 0],
  ])('a writer killed right after the %s step loses and repeats nothing when run again', async (step, rerun, keysLeft) => {
    const quizId = await finishedQuiz(8);
    const expected = buildResults(quizId, (await store.snapshot(quizId))!);
    const killed = await runWriter(quizId, step);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.out).toBe('');
    // What the killed run left behind.
    expect((await reader.all(quizId)).length).toBe(step === 'participants' ? 8 : 9);
    expect(await redisKeys(quizId)).toBe(keysLeft ? allQuizKeys(quizId).length : 0);
    expect((await sets.get(quizId)) === undefined).toBe(step !== 'participants' && step !== 'quiz');
    // The rerun finishes the job.
    const again = await runWriter(quizId);
    expect(JSON.parse(again.out)).toEqual(rerun === 'gone' ? { status: 'gone', written: 0, alreadyStored: 0 } : { status: 'stored', ...rerun });
    expect(await reader.all(quizId)).toHaveLength(9);
    expect(await reader.quiz(quizId)).toEqual(expected.quiz);
    expect(await redisKeys(quizId)).toBe(0);
    expect(await sets.get(quizId)).toBeUndefined();
  }, 60_000);

  test('a quiz not finished yet is left for later', async () => {
    const quizId = `res${String(++counter).padStart(5, '0')}`;
    await store.create(quizId);
    const out = await runWriter(quizId);
    expect(JSON.parse(out.out)).toEqual({ status: 'not_finished', written: 0, alreadyStored: 0 });
    expect(await redisKeys(quizId)).toBe(1);
  }, 60_000);
});

test('when the server that finished a quiz dies before storing its results, another server\'s sweep stores them', async () => {
  // This process plays the dead server: it finished the quiz and filed it, then stored nothing.
  const system = await startQuizSystem(1, {}).catch(err => { throw err; });
  try {
    const otherClient = new Redis(system.redis.url, { password: AUTH });
    const otherDb = connectDynamo(system.dynamo.endpoint);
    const otherStore = new QuizStore(otherClient, 3600);
    const quizId = 'deadsrv1';
    await otherStore.create(quizId);
    await new QuestionSetStore(otherDb, 'question-sets', 3600).put(quizId, sampleQuestions(2));
    await otherStore.join(quizId, 'user-0000001', 'solo', 'join');
    await otherStore.start(quizId, 'Orphan', ['science'], 5000, sampleQuestions(1));
    await otherStore.fileResults(quizId);
    await otherStore.finish(quizId);
    const otherReader = new ResultReader(otherDb, 'results');
    const deadline = Date.now() + 15_000;
    while ((await otherReader.all(quizId)).length < 2 && Date.now() < deadline) {
      await new Promise(r => setTimeout(r, 100));
    }
    expect(await otherReader.all(quizId)).toHaveLength(2);
    expect((await otherReader.quiz(quizId))?.name).toBe('Orphan');
    expect(await otherClient.zscore(PENDING_RESULTS_KEY, quizId)).toBeNull();
    otherClient.disconnect();
    otherDb.client.destroy();
  } finally {
    await system.stop();
  }
}, 60_000);
