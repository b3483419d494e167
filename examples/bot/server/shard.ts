import { createHash, randomUUID } from 'crypto';
import { REST } from '@discordjs/rest';
import { SessionInfo, WebSocketManager, WebSocketShardEvents, WebSocketShardStatus } from '@discordjs/ws';
import {
  GatewayDispatchEvents, GatewayDispatchPayload, GatewayIntentBits, GatewayMessageCreateDispatchData, Routes,
} from 'discord-api-types/v10';
import { CommandCounter, CommandLimiter, MemoryCommandCounter, RedisCommandCounter } from './command-limit';
import {
  ANALYZE_TEXT_MAX, CHAT_COMMANDS, checkPayload, CommandError, parseChatCommand, PingAnswer, ShardRequests, ShardRequestType, StatsAnswer,
} from './commands';
import { ShardConfig } from './config';
import { QueueConsumer } from './consumer';
import { ALL_SHARDS, Envelope, newRequest } from './envelope';
import { GateIdentifyThrottler, IdentifyGate, MemoryIdentifyGate, RedisIdentifyGate } from './identify-throttler';
import { BotMessaging } from './messaging';
import { Gathered, RequestClient } from './request-reply';
import { connectRedis } from '../../kit/bus';
import { readConfig } from '../../kit/config';
import type { Logger } from '../../kit/log';

/** Shards of one process share this gate when there is no Redis. */
const processGate = new MemoryIdentifyGate();

export interface ShardDependencies {
  readonly log: Logger;
  /** Defaults to Redis when `busUrl` is set, else one in-memory gate per process. */
  readonly identifyGate?: IdentifyGate;
  /** Defaults to Redis when `busUrl` is set, else a count in this shard. */
  readonly commandCounter?: CommandCounter;
}

/** What a shard has done, for logs and tests. */
export interface ShardCounters {
  identifies: number;
  resumes: number;
  dispatches: number;
  commands: number;
  /** Commands not answered because their user was over the limit. */
  limited: number;
}

/**
 * One gateway shard: a @discordjs/ws WebSocketManager for exactly `shardId` of `shardCount`, the REST
 * client it answers with, and the consumer of its own queue, where the bot topic delivers the requests
 * for this shard (or all shards) and where the answers to its own cross-shard requests arrive.
 */
export class BotShard {
  public readonly counters: ShardCounters = { identifies: 0, resumes: 0, dispatches: 0, commands: 0, limited: 0 };
  /** Guild ids this shard holds. */
  public readonly guilds = new Set<string>();
  public readonly rest: REST;
  public readonly manager: WebSocketManager;
  public readonly consumer: QueueConsumer;
  public readonly requests: RequestClient;
  private readonly messaging: BotMessaging;
  private readonly sessions = new Map<number, SessionInfo>();
  private readonly startedAt = Date.now();
  private readonly instance = randomUUID().slice(0, 8);
  private readonly closeRedis?: () => void;
  private readonly limiter: CommandLimiter;
  /** The `stats` request under way: concurrent `!stats` share it rather than ask every shard again. */
  private statsInFlight?: Promise<{ guilds: number; gathered: Gathered }>;
  private gatewayLatencyMs: number | null = null;
  private botUserId?: string;

  constructor(public readonly config: ShardConfig, private readonly deps: ShardDependencies) {
    const log = deps.log;
    this.messaging = new BotMessaging({ endpoint: config.awsEndpoint });
    this.rest = new REST({ version: '10', ...(config.apiUrl ? { api: config.apiUrl } : {}) }).setToken(config.token);
    let gate = deps.identifyGate;
    let counter = deps.commandCounter;
    if (config.busUrl && (!gate || !counter)) {
      const busConfig = { ...readConfig({}), busUrl: config.busUrl, busAuth: config.busAuth, busCluster: config.busCluster };
      const redis = connectRedis(busConfig, log, `bot-shard-${config.shardId}`, { commandTimeoutMs: 2000 });
      this.closeRedis = () => redis.disconnect();
      const prefix = `bot:${createHash('sha256').update(config.token).digest('hex').slice(0, 12)}`;
      gate ??= new RedisIdentifyGate(redis, prefix);
      counter ??= new RedisCommandCounter(redis, prefix);
    }
    this.limiter = new CommandLimiter(counter ?? new MemoryCommandCounter(), config.commandsPerUser, config.commandWindowSeconds);
    const identifyGate = gate ?? processGate;
    this.manager = new WebSocketManager({
      token: config.token,
      intents: GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.MessageContent,
      rest: this.rest,
      shardIds: [config.shardId],
      shardCount: config.shardCount,
      buildIdentifyThrottler: async manager => {
        const info = await manager.fetchGatewayInformation();
        return new GateIdentifyThrottler(identifyGate, info.session_start_limit.max_concurrency, id => `shard-${id}:${this.instance}`);
      },
      // Sessions per shard object, so that a second shard object in this process never resumes ours.
      retrieveSessionInfo: id => this.sessions.get(id) ?? null,
      updateSessionInfo: (id, info) => {
        if (info) {
          this.sessions.set(id, info);
        } else {
          this.sessions.delete(id);
        }
      },
    });
    this.requests = new RequestClient({
      messaging: this.messaging, topicArn: config.topicArn, replyTo: config.queueUrl, shardCount: config.shardCount, inbox: 'consumer',
    });
    this.consumer = new QueueConsumer(this.messaging, config.queueUrl, config.shardId, {
      onRequest: envelope => this.answer(envelope),
      onReply: reply => {
        this.requests.pending.deliver(reply);
      },
    }, log);
    this.wireGatewayEvents();
  }

  public get log(): Logger {
    return this.deps.log;
  }

  /** Starts the queue consumer and connects to the gateway; resolves once READY (or RESUMED). */
  public async start(): Promise<void> {
    this.consumer.start();
    const failed = new Promise<never>((_, reject) => {
      this.manager.once(WebSocketShardEvents.Error, err => reject(err));
    });
    await Promise.race([this.manager.connect(), failed]);
    this.log.info({ shard: this.config.shardId, shardCount: this.config.shardCount, guilds: this.guilds.size }, 'shard ready');
  }

  public async status(): Promise<WebSocketShardStatus | undefined> {
    return (await this.manager.fetchStatus()).get(this.config.shardId);
  }

  /** Closes the gateway session and stops reading the queue. */
  public async stop(): Promise<void> {
    await this.consumer.stop();
    await this.manager.destroy({ code: 1000, reason: 'shard stopping' });
    this.messaging.close();
    this.closeRedis?.();
  }

  /** Asks every shard how many guilds it holds and sums the answers; callers at the same time share one request. */
  public stats(timeoutMs = this.config.requestTimeoutMs): Promise<{ guilds: number; gathered: Gathered }> {
    this.statsInFlight ??= this.askStats(timeoutMs).finally(() => {
      this.statsInFlight = undefined;
    });
    return this.statsInFlight;
  }

  private async askStats(timeoutMs: number): Promise<{ guilds: number; gathered: Gathered }> {
    const gathered = await this.requests.request('stats', {}, ALL_SHARDS, timeoutMs);
    let guilds = 0;
    for (const answer of gathered.answers.values()) {
      guilds += (answer as StatsAnswer).guilds;
    }
    return { guilds, gathered };
  }

  private wireGatewayEvents(): void {
    this.manager.on(WebSocketShardEvents.Ready, data => {
      this.counters.identifies += 1;
      this.botUserId = data.user.id;
      this.guilds.clear();
      for (const guild of data.guilds) {
        this.guilds.add(guild.id);
      }
    });
    this.manager.on(WebSocketShardEvents.Resumed, () => {
      this.counters.resumes += 1;
      this.log.info({ shard: this.config.shardId }, 'resumed the gateway session');
    });
    this.manager.on(WebSocketShardEvents.HeartbeatComplete, stats => {
      this.gatewayLatencyMs = stats.latency;
    });
    this.manager.on(WebSocketShardEvents.Closed, code => {
      this.log.info({ shard: this.config.shardId, code }, 'gateway connection closed');
    });
    this.manager.on(WebSocketShardEvents.Error, err => {
      this.log.error({ shard: this.config.shardId, err: err.message }, 'gateway error');
    });
    this.manager.on(WebSocketShardEvents.Debug, message => this.log.debug({ shard: this.config.shardId }, message));
    this.manager.on(WebSocketShardEvents.Dispatch, payload => {
      this.counters.dispatches += 1;
      void this.onDispatch(payload).catch(err => this.log.error({ err: (err as Error).message, t: payload.t }, 'dispatch handler failed'));
    });
  }

  private async onDispatch(payload: GatewayDispatchPayload): Promise<void> {
    switch (payload.t) {
      case GatewayDispatchEvents.GuildCreate:
        this.guilds.add(payload.d.id);
        return;
      case GatewayDispatchEvents.GuildDelete:
        if (!payload.d.unavailable) {
          this.guilds.delete(payload.d.id);
        }
        return;
      case GatewayDispatchEvents.MessageCreate:
        return this.onMessage(payload.d);
      default:
        return;
    }
  }

  /** A message in a channel: answers the bot's commands, ignores everything else (and other bots). */
  private async onMessage(message: GatewayMessageCreateDispatchData): Promise<void> {
    if (message.author.bot || message.author.id === this.botUserId) {
      return;
    }
    const command = parseChatCommand(message.content ?? '', this.config.prefix);
    if (!command) {
      return;
    }
    const verdict = await this.limiter.check(message.author.id);
    if (verdict !== 'allow') {
      this.counters.limited += 1;
      if (verdict === 'refuse-and-say') {
        const content = `<@${message.author.id}> slow down: ${this.limiter.limit} commands per ${this.limiter.windowSeconds} s`;
        await this.rest.post(Routes.channelMessages(message.channel_id), { body: { content, allowed_mentions: { parse: [] } } });
      }
      return;
    }
    this.counters.commands += 1;
    const p = this.config.prefix;
    let answer: string | undefined;
    switch (command.name) {
      case 'ping':
        answer = `pong from shard ${this.config.shardId} of ${this.config.shardCount}` +
          (this.gatewayLatencyMs === null ? '' : ` (gateway heartbeat ${this.gatewayLatencyMs} ms)`);
        break;
      case 'stats':
        answer = describeStats(await this.stats(), this.config.shardCount, this.config.requestTimeoutMs);
        break;
      case 'analyze':
        answer = await this.offload(message, command.args);
        break;
      case 'help':
        answer = `commands: ${CHAT_COMMANDS.map(c => p + c).join(', ')} (${p}analyze <text> runs on a worker)`;
        break;
      default:
        answer = `unknown command ${p}${command.name}; try ${CHAT_COMMANDS.map(c => p + c).join(', ')}`;
    }
    if (answer) {
      await this.rest.post(Routes.channelMessages(message.channel_id), { body: { content: answer.slice(0, 2000) } });
    }
  }

  /** Sends `analyze` to the worker queue; the worker posts the result itself. */
  private async offload(message: GatewayMessageCreateDispatchData, text: string): Promise<string | undefined> {
    if (!this.config.workQueueUrl) {
      return 'offloaded work is not set up here (no worker queue)';
    }
    if (!text) {
      return `usage: ${this.config.prefix}analyze <text>`;
    }
    if (text.length > ANALYZE_TEXT_MAX) {
      return `that text is ${text.length} characters; ${this.config.prefix}analyze takes up to ${ANALYZE_TEXT_MAX}`;
    }
    const envelope: Envelope = newRequest('analyze', { guildId: message.guild_id, channelId: message.channel_id, text }, { timeoutMs: 60_000 });
    await this.messaging.send(this.config.workQueueUrl, envelope);
    return undefined;
  }

  /** Requests from the queue: from the command API, or from another shard. */
  private async answer(envelope: Envelope): Promise<unknown> {
    if (!(envelope.type in ShardRequests)) {
      throw new CommandError('unknown_type', `unknown request type ${envelope.type}; shards answer ${Object.keys(ShardRequests).join(', ')}`);
    }
    const type = envelope.type as ShardRequestType;
    switch (type) {
      case 'stats': {
        checkPayload(ShardRequests.stats, envelope.payload, type);
        const answer: StatsAnswer = { shard: this.config.shardId, guilds: this.guilds.size, uptimeMs: Date.now() - this.startedAt };
        return answer;
      }
      case 'ping': {
        checkPayload(ShardRequests.ping, envelope.payload, type);
        const answer: PingAnswer = { shard: this.config.shardId, guilds: this.guilds.size, gatewayLatencyMs: this.gatewayLatencyMs };
        return answer;
      }
      case 'say': {
        const say = checkPayload(ShardRequests.say, envelope.payload, type);
        if (!this.guilds.has(say.guildId)) {
          throw new CommandError('wrong_shard', `guild ${say.guildId} is not on shard ${this.config.shardId}`);
        }
        const posted = await this.rest.post(Routes.channelMessages(say.channelId), { body: { content: say.content } }) as { id: string };
        return { messageId: posted.id };
      }
    }
  }
}

/** `!stats`'s answer: the sum, and which shards did not answer in time. */
export function describeStats(result: { guilds: number; gathered: Gathered }, shardCount: number, timeoutMs: number): string {
  const { gathered } = result;
  const answered = gathered.answers.size;
  let text = `${result.guilds} guilds on ${answered} of ${shardCount} shards (${gathered.elapsedMs} ms)`;
  if (gathered.missing.length) {
    text += `; partial: no answer from shard ${gathered.missing.join(', ')} within ${timeoutMs} ms`;
  }
  if (gathered.errors.size) {
    text += `; errors from shard ${[...gathered.errors.keys()].join(', ')}`;
  }
  return text;
}
