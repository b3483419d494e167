import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { post, waitFor } from './wait';
import { createLogger } from '../../kit/log';
import { createCommandHandler } from '../lambda/command-api';
import { LocalGateway } from '../local/gateway';
import { LocalSystem, startLocalSystem } from '../local/local-system';
import { ENVELOPE_LIMITS, newRequest, parseMessage, Reply, ReplyError } from '../server/envelope';
import { BotMessaging } from '../server/messaging';

// Four shards in this process against the local gateway and SNS/SQS stand-ins, with the gateway's
// default max_concurrency of 1 (shards identify 5 s apart) and ShardedBot's queue defaults.
const SHARDS = 4;
let system: LocalSystem;
let gateway: LocalGateway;
let messaging: BotMessaging;
/** A queue the test reads answers from, as a requester would. */
let testReplies: string;
let failingGuild: string;

const shardOf = (guildId: string) => LocalGateway.shardOf(guildId, SHARDS);
let users = 0;
/** A message from a new user each time, so that the per-user command limit never mixes tests. */
const say = (guildId: string, content: string) => gateway.userMessage(guildId, content, { id: String(5_000_000_000_000_000n + BigInt(users++)) });
const postedIn = (guildId: string) => gateway.posted.filter(p => p.guildId === guildId).map(p => p.content);

beforeAll(async () => {
  // The last guild's channel answers 500 to every message: work for it fails until the dead-letter queue.
  const guildCount = 16;
  const lastGuild = (((1_000_000_000_000n + BigInt(guildCount - 1)) << 22n) + 7n);
  failingGuild = lastGuild.toString();
  system = await startLocalSystem({
    shardCount: SHARDS,
    gateway: { guildCount, failingChannels: [(lastGuild + 1n).toString()] },
    log: createLogger('bot-test', 'fatal'),
  });
  gateway = system.bot.gateway;
  messaging = new BotMessaging({ endpoint: system.bot.messaging.endpoint });
  testReplies = system.bot.messaging.createQueue({ name: 'test-replies' });
}, 60_000);

afterAll(async () => {
  messaging?.close();
  await system?.stop();
});

/** Receives from the test's reply queue until `count` replies have arrived (or fails after 10 s). */
async function replies(count: number): Promise<Reply[]> {
  const out: Reply[] = [];
  await waitFor(`${count} replies`, async () => {
    for (const m of await messaging.receive(testReplies, { waitSeconds: 1 })) {
      const parsed = parseMessage(m.body);
      if (parsed.kind === 'reply') {
        out.push(parsed.reply);
      }
      await messaging.delete(testReplies, m.receiptHandle);
    }
    return out.length >= count;
  });
  return out;
}

async function publishRaw(body: string, shard: string): Promise<void> {
  const sns = new SNSClient({ region: 'us-east-1', endpoint: system.bot.messaging.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await sns.send(new PublishCommand({ TopicArn: system.bot.topicArn, Message: body, MessageAttributes: { shard: { DataType: 'String', StringValue: shard } } }));
  sns.destroy();
}

test('each shard holds exactly the guilds (guild_id >> 22) % 4 routes to it, and identified once, at least 5 s after the previous shard, none refused', () => {
  for (let id = 0; id < SHARDS; id++) {
    expect([...system.shards[id]!.guilds].sort()).toEqual(gateway.guilds.filter(g => shardOf(g) === id).sort());
  }
  expect(gateway.liveShards()).toEqual([0, 1, 2, 3]);
  const identifies = gateway.eventsOf('identify').map(e => e.at).sort((a, b) => a - b);
  expect(identifies).toHaveLength(SHARDS);
  for (let i = 1; i < identifies.length; i++) {
    expect(identifies[i] - identifies[i - 1]).toBeGreaterThanOrEqual(5000);
  }
  expect(gateway.eventsOf('refused')).toEqual([]);
});

test('every guild\'s messages reach exactly its shard, which answers in that guild; the bot ignores its own messages', async () => {
  const guilds = gateway.guilds.filter(g => g !== failingGuild);
  for (const guild of guilds) {
    expect(say(guild, '!ping')).toBe(shardOf(guild));
  }
  await waitFor('a pong in every guild', () => guilds.every(g => postedIn(g).length > 0));
  // The replies come back to the shards as MESSAGE_CREATE from the bot: they must not be answered again.
  await new Promise(r => setTimeout(r, 300));
  for (const guild of guilds) {
    const answers = postedIn(guild);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatch(new RegExp(`^pong from shard ${shardOf(guild)} of 4( \\(gateway heartbeat \\d+ ms\\))?$`));
    const dispatchedTo = new Set(gateway.eventsOf('dispatch').filter(e => e.t === 'MESSAGE_CREATE' && e.guildId === guild).map(e => e.shard));
    expect([...dispatchedTo]).toEqual([shardOf(guild)]);
  }
});

test('!stats asks every shard over the topic and answers the sum', async () => {
  const guild = gateway.guilds[1];
  say(guild, '!stats');
  const answer = await waitFor('the stats answer', () => postedIn(guild).find(c => c.includes('guilds on')));
  expect(answer).toMatch(/^16 guilds on 4 of 4 shards \(\d+ ms\)$/);
});

test('the command API gathers stats from all shards, pings the shard of a guild, and says something through it', async () => {
  const stats = await post(system.commandApi.url, { command: 'stats' });
  expect(stats.status).toBe(200);
  expect(stats.body).toMatchObject({ guilds: 16, shards: 4, answered: [0, 1, 2, 3], missing: [], partial: false });

  const guild = gateway.guilds[6];
  const ping = await post(system.commandApi.url, { command: 'ping', guildId: guild });
  expect(ping.status).toBe(200);
  expect(ping.body).toMatchObject({ shard: shardOf(guild), answer: { shard: shardOf(guild), guilds: 4 } });

  const said = await post(system.commandApi.url, { command: 'say', guildId: guild, channelId: gateway.channelOf(guild), content: 'hello from the API' });
  expect(said.status).toBe(200);
  expect(said.body.answer.messageId).toMatch(/^\d+$/);
  expect(postedIn(guild)).toContain('hello from the API');
});

test('concurrent command invocations share one reply queue and each gets all of its own answers', async () => {
  // Three "containers" of the command function, all reading the same reply queue at once.
  const env = {
    topicArn: system.bot.topicArn,
    replyQueueUrl: system.bot.replyQueue,
    shardCount: SHARDS,
    timeoutMs: 3000,
    awsEndpoint: system.bot.messaging.endpoint,
  };
  const handlers = [0, 1, 2].map(() => createCommandHandler(env));
  const event = { body: JSON.stringify({ command: 'stats' }), isBase64Encoded: false } as APIGatewayProxyEventV2;
  const results = await Promise.all(handlers.flatMap(h => [h(event), h(event)]));
  for (const result of results) {
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body!)).toMatchObject({ guilds: 16, answered: [0, 1, 2, 3], partial: false });
  }
});

test('the command API answers bad input with a clear 4xx', async () => {
  expect(await post(system.commandApi.url, '{"command": ')).toEqual({ status: 400, body: { error: 'bad_json', message: 'the body is not JSON' } });
  const unknown = await post(system.commandApi.url, { command: 'dance' });
  expect(unknown.status).toBe(400);
  expect(unknown.body.message).toMatch(/^command: .*\(commands: stats, ping, say\)$/);
  const noShard = await post(system.commandApi.url, { command: 'ping', shard: 7 });
  expect(noShard).toEqual({ status: 400, body: { error: 'invalid_envelope', message: 'shard 7 does not exist; shards are 0 to 3' } });
  const long = await post(system.commandApi.url, { command: 'say', guildId: gateway.guilds[0], channelId: gateway.channelOf(gateway.guilds[0]), content: 'x'.repeat(20_000) });
  expect(long.status).toBe(413);
  expect(long.body.error).toBe('too_large');
  const extra = await post(system.commandApi.url, { command: 'stats', shard: 1 });
  expect(extra.status).toBe(400);
});

test('!analyze is offloaded to the worker, which posts the result; a bad work record is refused without a retry', async () => {
  const guild = gateway.guilds[2];
  say(guild, '!analyze The shard sends this. The worker counts the words, and the worker answers!');
  const answer = await waitFor('the analysis', () => postedIn(guild).find(c => c.startsWith('analysis:')));
  expect(answer).toBe('analysis: 13 words, 2 sentences, 74 characters; most used: the (4), worker (2), and (1), answers (1), counts (1)');

  await messaging.send(system.bot.workQueue, newRequest('analyze', { guildId: guild, channelId: 'not-a-channel', text: '' }, { replyTo: testReplies }));
  const [refusal] = await replies(1);
  expect(refusal).toMatchObject({ type: 'analyze.reply', shard: -1, error: { code: 'invalid_payload' } });
  expect((refusal as { error: ReplyError }).error.message).toMatch(/channelId: a snowflake/);
  await waitFor('the work queue to be empty', () => system.bot.messaging.bodies('bot-work').length === 0);
  expect(system.bot.messaging.bodies('bot-work-dlq')).toEqual([]);
});

test('malformed envelopes, unknown types and oversized payloads on the shard queues get error replies, and no shard crashes', async () => {
  const base = { correlationId: 'bad-1', replyTo: testReplies, payload: {} };
  await publishRaw('this is not json', 'all');
  await publishRaw(JSON.stringify({ ...base, type: 'Stats!' }), '0');
  await publishRaw(JSON.stringify({ ...base, correlationId: 'bad-2', type: 'dance' }), '1');
  await publishRaw(JSON.stringify({ type: 'stats', ...base, correlationId: 'bad-3', payload: 'x'.repeat(ENVELOPE_LIMITS.maxBytes) }), '2');
  await publishRaw(JSON.stringify({ ...base, correlationId: 'bad-4', type: 'say', payload: { guildId: '1', content: '' } }), '3');
  const got = await replies(4);
  const byId = Object.fromEntries(got.map(r => [r.correlationId, r]));
  // The type itself is invalid, so the reply cannot name it.
  expect(byId['bad-1']).toMatchObject({ type: 'unknown.reply', shard: 0, error: { code: 'invalid_envelope' } });
  expect((byId['bad-1'] as { error: ReplyError }).error.message).toMatch(/^type: /);
  expect(byId['bad-2']).toMatchObject({ type: 'dance.reply', shard: 1, error: { code: 'unknown_type', message: 'unknown request type dance; shards answer stats, ping, say' } });
  expect(byId['bad-3']).toMatchObject({ type: 'stats.reply', shard: 2, error: { code: 'too_large' } });
  expect(byId['bad-4']).toMatchObject({ type: 'say.reply', shard: 3, error: { code: 'invalid_payload' } });
  expect((byId['bad-4'] as { error: ReplyError }).error.message).toMatch(/^say: /);
  expect(system.shards.reduce((n, s) => n + s!.consumer.counters.invalid, 0)).toBeGreaterThanOrEqual(6);
  for (let id = 0; id < SHARDS; id++) {
    await waitFor(`shard ${id}'s queue to be empty`, () => system.bot.messaging.bodies(`bot-shard-${id}`).length === 0);
    expect(system.bot.messaging.bodies(`bot-shard-${id}-dlq`)).toEqual([]);
  }
  const stats = await post(system.commandApi.url, { command: 'stats' });
  expect(stats.body).toMatchObject({ guilds: 16, partial: false });
});

test('a user over 5 commands per 10 s is told once to slow down and then ignored; other users are still answered', async () => {
  const guild = gateway.guilds[5];
  const spammer = { id: '6000000000000000001' };
  // Inside one 10 s window, so that the count cannot reset halfway.
  await waitFor('the start of a window', () => Date.now() % 10_000 < 5_000, 6_000);
  const before = postedIn(guild).length;
  for (let i = 0; i < 8; i++) {
    gateway.userMessage(guild, '!ping', spammer);
  }
  say(guild, '!ping');
  await waitFor('the answers', () => postedIn(guild).length >= before + 7);
  await new Promise(r => setTimeout(r, 300));
  const answers = postedIn(guild).slice(before);
  expect(answers.filter(c => c.startsWith('pong'))).toHaveLength(6);
  expect(answers.filter(c => c.includes('slow down'))).toEqual([`<@${spammer.id}> slow down: 5 commands per 10 s`]);
  expect(system.shards[shardOf(guild)]!.counters.limited).toBe(3);
});

test('a shard that loses its connection resumes without identifying again, and gets what it missed', async () => {
  const shard = 1;
  const guild = gateway.guilds.find(g => shardOf(g) === shard)!;
  const identifiesBefore = gateway.eventsOf('identify', shard).length;
  const pongs = () => postedIn(guild).filter(c => c.startsWith('pong')).length;
  const pongsBefore = pongs();
  gateway.dropConnection(shard);
  // Sent while the shard is away: the gateway keeps it for the session and replays it on RESUME.
  say(guild, '!ping');
  const resumed = await waitFor('a resume', () => gateway.eventsOf('resume', shard)[0]);
  expect(resumed.replayed).toBeGreaterThanOrEqual(1);
  await waitFor('the replayed ping to be answered', () => pongs() === pongsBefore + 1);
  // The gateway replays the missed dispatches before RESUMED, so the shard may count the resume a moment after the answer.
  await waitFor('the shard to take RESUMED', () => system.shards[shard]!.counters.resumes === 1);
  expect(system.shards[shard]!.counters.identifies).toBe(1);

  // Asked to reconnect (opcode 7), it resumes too.
  gateway.requestReconnect(shard);
  await waitFor('a second resume', () => gateway.eventsOf('resume', shard).length === 2);
  expect(gateway.eventsOf('identify', shard)).toHaveLength(identifiesBefore);
  expect(gateway.liveShards()).toEqual([0, 1, 2, 3]);
});

test('an invalid session that can be resumed is resumed; one that cannot makes the shard identify again and get its guilds back', async () => {
  const shard = 2;
  const resumes = gateway.eventsOf('resume', shard).length;
  gateway.invalidateSession(shard, true);
  await waitFor('a resume', () => gateway.eventsOf('resume', shard).length === resumes + 1);
  expect(gateway.eventsOf('identify', shard)).toHaveLength(1);

  gateway.invalidateSession(shard, false);
  await waitFor('a new identify', () => gateway.eventsOf('identify', shard).length === 2, 15_000);
  await waitFor('the shard ready again', () => gateway.liveShards().includes(shard));
  // The gateway counts the shard live once it has sent READY; the shard counts it once READY arrives.
  await waitFor('the shard to take the new READY', () => system.shards[shard]!.counters.identifies === 2);
  expect([...system.shards[shard]!.guilds].sort()).toEqual(gateway.guilds.filter(g => shardOf(g) === shard).sort());
  expect(gateway.eventsOf('refused')).toEqual([]);
}, 30_000);

test('a request that keeps failing is retried and then lands in the shard\'s dead-letter queue after 5 receives', async () => {
  const shard = shardOf(failingGuild);
  const request = newRequest('say', { guildId: failingGuild, channelId: gateway.channelOf(failingGuild), content: 'this channel is down' }, { timeoutMs: 120_000 });
  await messaging.publish(system.bot.topicArn, request, shard);
  const dlq = `bot-shard-${shard}-dlq`;
  await waitFor('the dead-letter queue', () => system.bot.messaging.bodies(dlq).length === 1, 40_000);
  expect(JSON.parse(system.bot.messaging.bodies(dlq)[0])).toEqual(request);
  expect(system.shards[shard]!.consumer.counters.retried).toBe(5);
  expect(system.bot.messaging.record.deadLettered).toEqual({ [`bot-shard-${shard}`]: 1 });
  // The shard itself carried on.
  expect((await post(system.commandApi.url, { command: 'ping', shard })).status).toBe(200);
}, 60_000);

test('stats with a shard stopped returns a partial answer after the timeout, naming the missing shard', async () => {
  await system.stopShard(3);
  const started = Date.now();
  const stats = await post(system.commandApi.url, { command: 'stats' });
  expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  expect(stats.status).toBe(200);
  expect(stats.body).toMatchObject({ guilds: 12, answered: [0, 1, 2], missing: [3], partial: true });

  const guild = gateway.guilds.find(g => shardOf(g) === 0)!;
  say(guild, '!stats');
  const answer = await waitFor('the partial stats answer', () => postedIn(guild).find(c => c.includes('partial')), 10_000);
  expect(answer).toMatch(/^12 guilds on 3 of 4 shards \(\d+ ms\); partial: no answer from shard 3 within 3000 ms$/);

  // The shard's next task drops the requests that waited past their deadline, and answers again.
  const restarted = await system.startShard(3);
  await waitFor('the stale requests to be dropped', () => restarted.consumer.counters.expired >= 2);
  expect(restarted.consumer.counters.answered).toBe(0);
  const again = await post(system.commandApi.url, { command: 'stats' });
  expect(again.body).toMatchObject({ guilds: 16, partial: false });
}, 40_000);
