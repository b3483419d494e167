import { startQuizSystem, QuizSystem } from './local-quiz';
import { api, HttpFailure, QuizClient, sampleQuestions } from './quiz-client';

// One trusted proxy (the default, QUIZ_TRUSTED_PROXIES=1) appends the client's address to X-Forwarded-For:
// each request here says which address it comes from, as a load balancer would.
const from = (address: string) => ({ 'x-forwarded-for': address });

async function refusal(run: () => Promise<unknown>): Promise<HttpFailure> {
  const err = await run().then(() => undefined, e => e);
  expect(err).toBeInstanceOf(HttpFailure);
  return err as HttpFailure;
}

describe('with the default bounds', () => {
  let system: QuizSystem;
  let port: number;
  beforeAll(async () => {
    system = await startQuizSystem(1);
    port = system.servers[0].port;
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  test('one /64 may join 300 times in 10 minutes, whichever of its addresses it uses; other addresses still join', async () => {
    const host = await api.signOnHost(port, from('192.0.2.1'));
    for (let batch = 0; batch < 15; batch++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => api.join(port, host.quizId, `p${batch}-${i}`, from(`2001:db8:aaaa:1:${batch}::${i + 1}`))));
    }
    const refused = await refusal(() => api.join(port, host.quizId, 'one too many', from('2001:db8:aaaa:1:ffff:ffff:ffff:ffff')));
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual(expect.objectContaining({ error: 'address_limit', retryAfterMs: expect.any(Number) }));
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(500);
    expect((await api.join(port, host.quizId, 'next door', from('2001:db8:aaaa:2::1'))).name).toBe('next door');
    expect((await api.join(port, host.quizId, 'ipv4', from('198.51.100.7'))).name).toBe('ipv4');
  }, 60_000);

  test('a connection sending more than 10 messages a second (bursts of 20) gets rate_limited, then is served again', async () => {
    const host = await api.signOnHost(port, from('192.0.2.2'));
    const c = await QuizClient.connect(port, host.token);
    await c.waitFor(f => f.type === 'QUIZ-STATE');
    const mark = c.mark();
    for (let i = 0; i < 40; i++) {
      c.send('REQUEST-HOST-QUESTIONS', {});
    }
    const limited = await c.waitFor(f => f.type === 'error', 5000, mark);
    expect(limited).toEqual({ type: 'error', code: 'rate_limited', message: 'at most 10 messages a second', retryAfterMs: expect.any(Number) });
    expect(c.frames.slice(mark).filter(f => f.type === 'RESPONSE-HOST-QUESTIONS').length).toBeLessThanOrEqual(21);
    await new Promise(r => setTimeout(r, 2500));
    expect((await c.request('REQUEST-HOST-QUESTIONS', {}, 'RESPONSE-HOST-QUESTIONS')).type).toBe('RESPONSE-HOST-QUESTIONS');
    await c.close();
  }, 30_000);
});

describe('bounds per address hold across two servers (counted in Redis)', () => {
  let system: QuizSystem;
  let a: number;
  let b: number;
  beforeAll(async () => {
    system = await startQuizSystem(2, {
      QUIZ_HOSTS_PER_ADDRESS: '2',
      QUIZ_UPLOADS_PER_ADDRESS: '2',
      QUIZ_CONNECTIONS_PER_ADDRESS: '8',
      QUIZ_ANSWERS_PER_ADDRESS: '5',
      QUIZ_MAX_PARTICIPANTS: '8',
      QUIZ_OPEN_CONNECTIONS_PER_ADDRESS: '6',
    });
    [a, b] = system.servers.map(s => s.port);
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  test('quizzes created and uploads per address', async () => {
    const first = await api.signOnHost(a, from('203.0.113.5'));
    await api.signOnHost(b, from('203.0.113.5'));
    const refused = await refusal(() => api.signOnHost(a, from('203.0.113.5')));
    expect([refused.status, refused.body.error]).toEqual([429, 'address_limit']);
    await api.upload(a, first.token, sampleQuestions(2), from('203.0.113.6'));
    await api.upload(b, first.token, sampleQuestions(3), from('203.0.113.6'));
    const tooMany = await refusal(() => api.upload(a, first.token, sampleQuestions(4), from('203.0.113.6')));
    expect([tooMany.status, tooMany.body.error]).toEqual([429, 'address_limit']);
    expect((await api.upload(b, first.token, sampleQuestions(4), from('203.0.113.7'))).questions).toBe(4);
  });

  test('a quiz takes QUIZ_MAX_PARTICIPANTS participants, counted over both servers', async () => {
    const host = await api.signOnHost(a, from('203.0.113.40'));
    for (let i = 0; i < 8; i++) {
      await api.join(i % 2 ? a : b, host.quizId, `p${i}`, from(`198.51.100.${i + 1}`));
    }
    const full = await refusal(() => api.join(a, host.quizId, 'ninth', from('198.51.100.99')));
    expect([full.status, full.body.error]).toEqual([409, 'quiz_full']);
  });

  test('open connections per address over both servers (the kit\'s bound, counted in Redis): the seventh upgrade from one /64 is refused on either until one closes', async () => {
    const host = await api.signOnHost(a, from('203.0.113.50'));
    const open = [];
    for (let i = 0; i < 6; i++) {
      open.push(await QuizClient.connect(i % 2 ? a : b, host.token, from(`2001:db8:dddd:1::${i + 1}`)));
    }
    for (const port of [a, b]) {
      const refused = await QuizClient.connect(port, host.token, from('2001:db8:dddd:1::9')).then(() => undefined, e => e as HttpFailure);
      expect([refused?.status, refused?.body.error]).toEqual([429, 'too_many_connections']);
    }
    // A connection closed on one server frees a place on the other.
    await open[0].close();
    const deadline = Date.now() + 5000;
    let again: QuizClient | undefined;
    while (!again && Date.now() < deadline) {
      again = await QuizClient.connect(a, host.token, from('2001:db8:dddd:1::9')).catch(() => undefined);
    }
    expect(again).toBeDefined();
    await Promise.all([...open.slice(1), again!].map(c => c.close()));
  });

  test('WebSocket connections per address a minute, over both servers', async () => {
    const host = await api.signOnHost(a, from('203.0.113.20'));
    // Each connects and leaves again: the count is of upgrades, not of open connections.
    for (let i = 0; i < 8; i++) {
      await (await QuizClient.connect(i % 2 ? a : b, host.token, from(`2001:db8:bbbb:1::${i + 1}`))).close();
    }
    const refused = await QuizClient.connect(a, host.token, from('2001:db8:bbbb:1::99')).then(() => undefined, e => e as HttpFailure);
    expect([refused?.status, refused?.body.error]).toEqual([429, 'address_limit']);
    await (await QuizClient.connect(b, host.token, from('2001:db8:bbbb:2::1'))).close();
  });

  test('answers per address a second, over both servers', async () => {
    const host = await api.signOnHost(a, from('203.0.113.30'));
    const set = sampleQuestions(2);
    await api.upload(a, host.token, set, from('203.0.113.30'));
    const players = await Promise.all(Array.from({ length: 7 }, async (_, i) => {
      const address = i < 6 ? `2001:db8:cccc:1::${i + 1}` : '2001:db8:cccc:2::1';
      const port = i % 2 ? a : b;
      const j = await api.join(port, host.quizId, `p${i}`, from(address));
      return QuizClient.connect(port, j.token, from(address));
    }));
    const hostClient = await QuizClient.connect(a, host.token, from('203.0.113.30'));
    const started = await hostClient.request('HOST-CONFIG', { quizName: 'Bound', categories: ['science'], duration: 30, selectedQuestionIndexes: [0] }, 'BROADCAST-START');
    expect(started.type).toBe('BROADCAST-START');
    await Promise.all(players.map(p => p.waitFor(f => f.type === 'BROADCAST-START')));
    const answers = await Promise.all(players.map(p => p.request('PARTICIPANT-ANSWER', { questionIndex: 0, selectedOptionIndexes: set[0].answers }, 'RESPONSE-PARTICIPANT-ANSWER')));
    const sameNetwork = answers.slice(0, 6).map(f => (f.type === 'error' ? f.code : f.payload.outcome));
    expect(sameNetwork.filter(x => x === 'correct')).toHaveLength(5);
    expect(sameNetwork.filter(x => x === 'address_limit')).toHaveLength(1);
    expect(answers[6].payload.outcome).toBe('correct');
    await Promise.all([...players, hostClient].map(c => c.close()));
  });
});
