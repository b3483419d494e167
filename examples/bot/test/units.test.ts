import * as http from 'http';
import { AddressInfo } from 'net';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GatewayCloseCodes, GatewayOpcodes } from 'discord-api-types/v10';
import { WebSocket } from 'ws';
import { shardOfGuild } from '../lambda/command-api';
import { botToken, forgetToken } from '../lambda/token';
import { LocalGateway } from '../local/gateway';
import { LocalMessaging } from '../local/messaging';
import { analyze } from '../server/commands';
import { answerAddress, encode, ENVELOPE_LIMITS, EnvelopeError, newRequest, parseMessage } from '../server/envelope';
import { BotMessaging } from '../server/messaging';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/Bot-shard-0';

describe('envelope', () => {
  test('parses requests and replies, and names what is wrong with anything else', () => {
    const request = newRequest('stats', {}, { replyTo: QUEUE_URL, timeoutMs: 1000 });
    expect(parseMessage(encode(request))).toEqual({ kind: 'request', envelope: request });
    const reply = { type: 'stats.reply', correlationId: request.correlationId, shard: 3, payload: { guilds: 4 } };
    expect(parseMessage(JSON.stringify(reply))).toEqual({ kind: 'reply', reply });

    const refused = (body: string) => {
      try {
        parseMessage(body);
      } catch (err) {
        expect(err).toBeInstanceOf(EnvelopeError);
        return `${(err as EnvelopeError).code}: ${(err as EnvelopeError).message}`;
      }
      throw new Error('accepted');
    };
    expect(refused('{')).toBe('bad_json: message body is not JSON');
    expect(refused(JSON.stringify({ ...request, extra: 1 }))).toMatch(/^invalid_envelope: body: Unrecognized key: "extra"/);
    expect(refused(JSON.stringify({ ...request, replyTo: 'http://evil.example/steal' }))).toBe('invalid_envelope: replyTo: an SQS queue URL');
    expect(refused(JSON.stringify({ ...reply, shard: 'one' }))).toMatch(/^invalid_envelope: /);
    expect(refused('x'.repeat(ENVELOPE_LIMITS.maxBytes + 1))).toBe(`too_large: message is ${ENVELOPE_LIMITS.maxBytes + 1} bytes; the limit is ${ENVELOPE_LIMITS.maxBytes}`);
    expect(() => encode({ ...request, payload: 'x'.repeat(ENVELOPE_LIMITS.maxBytes) })).toThrow(/^stats is \d+ bytes as JSON; the limit is 65536$/);
  });

  test('reads where to answer from a body that failed validation, only when both fields are usable', () => {
    expect(answerAddress('{"type":"Bad Type","correlationId":"c-1","replyTo":"' + QUEUE_URL + '","payload":1,"x":2}'))
      .toEqual({ type: 'unknown', correlationId: 'c-1', replyTo: QUEUE_URL });
    expect(answerAddress('{"correlationId":"c-1","replyTo":"http://evil.example/steal"}')).toBeUndefined();
    expect(answerAddress('not json')).toBeUndefined();
  });

  test('routes a guild by (id >> 22) % shards in BigInt, exactly also above 2^53', () => {
    const id = '1175928471263748128';
    expect(shardOfGuild(id, 4)).toBe(Number((BigInt(id) >> 22n) % 4n));
    expect(shardOfGuild(id, 4)).toBe(LocalGateway.shardOf(id, 4));
    expect(shardOfGuild('81384788765712384', 16)).toBe(Number((81384788765712384n >> 22n) % 16n));
  });

  test('analyze counts words, sentences and characters, and the most used words', () => {
    expect(analyze('Hello hello world. Bye!')).toEqual({
      characters: 23, words: 4, sentences: 2, top: [{ word: 'hello', count: 2 }, { word: 'bye', count: 1 }, { word: 'world', count: 1 }],
    });
  });
});

describe('SNS/SQS stand-in through the AWS SDK', () => {
  let local: LocalMessaging;
  let messaging: BotMessaging;
  let q0: string;
  let q1: string;
  let wrapped: string;

  beforeAll(async () => {
    local = await LocalMessaging.start();
    local.createTopic('t');
    local.createQueue({ name: 'q0-dlq' });
    q0 = local.createQueue({ name: 'q0', visibilityTimeoutSeconds: 1, maxReceiveCount: 2, deadLetterQueue: 'q0-dlq' });
    q1 = local.createQueue({ name: 'q1' });
    wrapped = local.createQueue({ name: 'wrapped' });
    local.subscribe({ topic: 't', queue: 'q0', filterPolicy: { shard: ['0', 'all'] }, rawMessageDelivery: true });
    local.subscribe({ topic: 't', queue: 'q1', filterPolicy: { shard: ['1', 'all'] }, rawMessageDelivery: true });
    local.subscribe({ topic: 't', queue: 'wrapped', filterPolicy: { shard: ['all'] } });
    messaging = new BotMessaging({ endpoint: local.endpoint });
  });

  afterAll(async () => {
    messaging?.close();
    await local?.stop();
  });

  test('filter policies pick the queues; raw delivery keeps the body, otherwise it is wrapped in a notification', async () => {
    const one = newRequest('ping', {});
    const all = newRequest('stats', {});
    await messaging.publish(local.topicArn('t'), one, 1);
    await messaging.publish(local.topicArn('t'), all, 'all');
    const sns = new SNSClient({ region: 'us-east-1', endpoint: local.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    await sns.send(new PublishCommand({ TopicArn: local.topicArn('t'), Message: '{"no":"attribute"}' }));
    sns.destroy();
    expect(local.bodies('q0')).toEqual([encode(all)]);
    expect(local.bodies('q1')).toEqual([encode(one), encode(all)]);
    expect(JSON.parse(local.bodies('wrapped')[0])).toMatchObject({ Type: 'Notification', Message: encode(all), MessageAttributes: { shard: { Type: 'String', Value: 'all' } } });
    for (const url of [q0, q1, wrapped]) {
      for (const m of await messaging.receive(url, { waitSeconds: 0 })) {
        await messaging.delete(url, m.receiptHandle);
      }
    }
  });

  test('a received message comes back after its visibility timeout with a higher receive count, then moves to the dead-letter queue', async () => {
    await messaging.send(q0, newRequest('poison', {}));
    const first = await messaging.receive(q0, { waitSeconds: 0 });
    expect(first.map(m => m.receiveCount)).toEqual([1]);
    expect(await messaging.receive(q0, { waitSeconds: 0 })).toEqual([]);
    const started = Date.now();
    const second = await messaging.receive(q0, { waitSeconds: 5 });
    expect(second.map(m => m.receiveCount)).toEqual([2]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    await messaging.release(q0, second[0].receiptHandle, 0);
    expect(await messaging.receive(q0, { waitSeconds: 0 })).toEqual([]);
    expect(local.bodies('q0-dlq').map(b => JSON.parse(b).type)).toEqual(['poison']);
    expect(local.record.deadLettered).toEqual({ q0: 1 });
  });

  test('a long poll returns as soon as a message arrives; errors come back as the SDK\'s named exceptions', async () => {
    setTimeout(() => void messaging.send(q1, newRequest('late', {})), 200);
    const started = Date.now();
    const got = await messaging.receive(q1, { waitSeconds: 10 });
    expect(got).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(messaging.send(`${local.endpoint}/000000000000/nope`, newRequest('x', {}))).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
    await expect(messaging.publish(local.topicArn('nope'), newRequest('x', {}), 'all')).rejects.toMatchObject({ name: 'NotFoundException' });
    const sqs = new SQSClient({ region: 'us-east-1', endpoint: local.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    await expect(sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q1, ReceiptHandle: 'gone', VisibilityTimeout: 0 }))).rejects.toMatchObject({ name: 'MessageNotInflight' });
    sqs.destroy();
  });
});

describe('gateway stand-in', () => {
  let gateway: LocalGateway;

  beforeAll(async () => {
    gateway = await LocalGateway.start({ token: 't0ken', guildCount: 4 });
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  /** Opens a connection, waits for HELLO, sends `payloads`, and resolves with what came back and the close code. */
  async function session(payloads: unknown[], query = '?v=10&encoding=json'): Promise<{ received: any[]; code: number }> {
    const ws = new WebSocket(gateway.gatewayUrl + query);
    const received: any[] = [];
    return new Promise(resolve => {
      ws.on('message', data => {
        const payload = JSON.parse(data.toString());
        received.push(payload);
        if (payload.op === GatewayOpcodes.Hello) {
          for (const p of payloads) {
            ws.send(typeof p === 'string' ? p : JSON.stringify(p));
          }
          setTimeout(() => ws.close(), 500);
        }
      });
      ws.on('close', code => resolve({ received, code }));
    });
  }

  test('closes with the gateway\'s codes on a bad token, shard, opcode, payload or version', async () => {
    expect((await session([{ op: 2, d: { token: 'wrong', shard: [0, 1] } }])).code).toBe(GatewayCloseCodes.AuthenticationFailed);
    expect((await session([{ op: 2, d: { token: 't0ken', shard: [2, 2] } }])).code).toBe(GatewayCloseCodes.InvalidShard);
    expect((await session([{ op: 3, d: {} }])).code).toBe(GatewayCloseCodes.NotAuthenticated);
    expect((await session([{ op: 42 }])).code).toBe(GatewayCloseCodes.UnknownOpcode);
    expect((await session(['not json'])).code).toBe(GatewayCloseCodes.DecodeError);
    expect((await session([JSON.stringify({ op: 1, d: 'x'.repeat(5000) })])).code).toBe(GatewayCloseCodes.DecodeError);
    expect((await session([], '?v=9')).code).toBe(GatewayCloseCodes.InvalidAPIVersion);
  });

  test('acknowledges heartbeats, sends READY and the guilds of the shard, and refuses a resume it cannot serve', async () => {
    const hb = await session([{ op: 1, d: null }]);
    expect(hb.received.map(p => p.op)).toEqual([GatewayOpcodes.Hello, GatewayOpcodes.HeartbeatAck]);

    const ready = await session([{ op: 2, d: { token: 't0ken', shard: [1, 2] } }]);
    const dispatches = ready.received.filter(p => p.op === GatewayOpcodes.Dispatch);
    expect(dispatches.map(p => [p.t, p.s])).toEqual([['READY', 1], ['GUILD_CREATE', 2], ['GUILD_CREATE', 3]]);
    expect(dispatches[0].d).toMatchObject({ shard: [1, 2], resume_gateway_url: gateway.gatewayUrl });
    expect(dispatches.slice(1).map(p => LocalGateway.shardOf(p.d.id, 2))).toEqual([1, 1]);
    const sessionId = dispatches[0].d.session_id;

    expect((await session([{ op: 6, d: { token: 't0ken', session_id: sessionId, seq: 99 } }])).code).toBe(GatewayCloseCodes.InvalidSeq);
    const unknown = await session([{ op: 6, d: { token: 't0ken', session_id: 'nope', seq: 1 } }]);
    expect(unknown.received.at(-1)).toEqual({ op: GatewayOpcodes.InvalidSession, d: false });
  });

  test('REST: GET /gateway/bot needs the token; messages are checked like Discord\'s', async () => {
    expect((await fetch(`${gateway.apiUrl}/v10/gateway/bot`)).status).toBe(401);
    const info = await (await fetch(`${gateway.apiUrl}/v10/gateway/bot`, { headers: { authorization: 'Bot t0ken' } })).json();
    expect(info).toEqual({
      url: gateway.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 1000, reset_after: 86_400_000, max_concurrency: 1 },
    });
    const postTo = (channel: string, body: unknown) => fetch(`${gateway.apiUrl}/v10/channels/${channel}/messages`, {
      method: 'POST', headers: { 'authorization': 'Bot t0ken', 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    expect((await postTo('1', { content: 'hi' })).status).toBe(404);
    const tooLong = await postTo(gateway.channelOf(gateway.guilds[0]), { content: 'x'.repeat(2001) });
    expect(tooLong.status).toBe(400);
    expect((await tooLong.json()).code).toBe(50035);
  });
});

describe('worker token', () => {
  let server: http.Server;
  let seen: { target?: string; authorization?: string; body?: string } = {};
  let answer: { status: number; body: unknown };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', d => { body += d; });
      req.on('end', () => {
        seen = { target: req.headers['x-amz-target'] as string, authorization: req.headers.authorization, body };
        res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise<void>(resolve => server.close(() => resolve()));
  });

  const env = (extra: Record<string, string>) => ({
    BOT_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bot-token-AbCdEf',
    BOT_SECRETS_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    ...extra,
  });

  test('reads the secret with a SigV4-signed GetSecretValue in the secret\'s region, and picks the JSON field', async () => {
    forgetToken();
    answer = { status: 200, body: { SecretString: JSON.stringify({ token: 'the-token' }) } };
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
    try {
      expect(await botToken(env({ BOT_TOKEN_SECRET_FIELD: 'token' }))).toBe('the-token');
    } finally {
      process.env = saved;
    }
    expect(seen.target).toBe('secretsmanager.GetSecretValue');
    expect(seen.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request, SignedHeaders=.*x-amz-target.*, Signature=[0-9a-f]{64}$/);
    expect(JSON.parse(seen.body!)).toEqual({ SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bot-token-AbCdEf' });
  });

  test('says what failed when the secret cannot be read, and prefers BOT_TOKEN when it is set', async () => {
    forgetToken();
    answer = { status: 400, body: { __type: 'ResourceNotFoundException', message: 'Secrets Manager can\'t find the specified secret.' } };
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
    try {
      await expect(botToken(env({}))).rejects.toThrow(/GetSecretValue .* failed: HTTP 400 ResourceNotFoundException Secrets Manager can't find/);
    } finally {
      process.env = saved;
    }
    expect(await botToken({ BOT_TOKEN: 'local' })).toBe('local');
  });
});
