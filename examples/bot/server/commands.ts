import { z } from 'zod';

/**
 * The bot's commands: what a user types in a channel (`!ping`), and what the command API and the other
 * shards ask a shard over its queue (`stats`, `ping`, `say`). Payload schemas live here so that the
 * shard, the Lambdas and the tests agree.
 */

/** Commands users type after the prefix. */
export const CHAT_COMMANDS = ['ping', 'stats', 'analyze', 'help'] as const;
export type ChatCommand = (typeof CHAT_COMMANDS)[number];

/** Largest text `analyze` sends to the worker. */
export const ANALYZE_TEXT_MAX = 1800;

/** Splits `!name rest` into the command name and its argument text; undefined if not a command. */
export function parseChatCommand(content: string, prefix: string): { name: string; args: string } | undefined {
  if (!content.startsWith(prefix)) {
    return undefined;
  }
  const body = content.slice(prefix.length);
  const match = /^([A-Za-z0-9_-]{1,32})(?:\s+([\s\S]*))?$/.exec(body);
  if (!match) {
    return { name: body.split(/\s/, 1)[0].slice(0, 32), args: '' };
  }
  return { name: match[1].toLowerCase(), args: (match[2] ?? '').trim() };
}

/** A snowflake id as a string. */
const Snowflake = z.string().regex(/^\d{1,20}$/, 'a snowflake (digits)');

/** Requests a shard answers on its queue, by envelope `type`. */
export const ShardRequests = {
  /** How many guilds the shard holds; summed by `stats` over all shards. */
  stats: z.strictObject({}),
  /** Is the shard alive, and how far is it behind the gateway. */
  ping: z.strictObject({}),
  /** Post a message in a channel of a guild this shard holds. */
  say: z.strictObject({ guildId: Snowflake, channelId: Snowflake, content: z.string().min(1).max(2000) }),
} as const;
export type ShardRequestType = keyof typeof ShardRequests;

export interface StatsAnswer {
  readonly shard: number;
  readonly guilds: number;
  readonly uptimeMs: number;
}

export interface PingAnswer {
  readonly shard: number;
  readonly guilds: number;
  /** Last heartbeat round trip to the gateway; null before the first. */
  readonly gatewayLatencyMs: number | null;
}

/** The work the worker Lambda does: analyze a text and post the result in the channel. */
export const WorkRequests = {
  analyze: z.strictObject({ guildId: Snowflake, channelId: Snowflake, text: z.string().min(1).max(ANALYZE_TEXT_MAX) }),
} as const;

export interface Analysis {
  readonly characters: number;
  readonly words: number;
  readonly sentences: number;
  /** Up to five most frequent words of three letters or more, most frequent first. */
  readonly top: Array<{ word: string; count: number }>;
}

/** The "heavy" part the shards leave to the worker. */
export function analyze(text: string): Analysis {
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const counts = new Map<string, number>();
  for (const word of words) {
    if (word.length >= 3) {
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5).map(([word, count]) => ({ word, count }));
  return {
    characters: [...text].length,
    words: words.length,
    sentences: (text.match(/[.!?]+(\s|$)/g) ?? []).length || (text.trim() ? 1 : 0),
    top,
  };
}

export function describeAnalysis(a: Analysis): string {
  const top = a.top.length ? `; most used: ${a.top.map(t => `${t.word} (${t.count})`).join(', ')}` : '';
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  return `${count(a.words, 'word')}, ${count(a.sentences, 'sentence')}, ${count(a.characters, 'character')}${top}`;
}

/** A refusal the requester can act on: answered as a reply error, and the message is not retried. */
export class CommandError extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Checks a payload against a schema; a CommandError `invalid_payload` says what is wrong. */
export function checkPayload<T>(schema: z.ZodType<T>, payload: unknown, type: string): T {
  const result = schema.safeParse(payload);
  if (!result.success) {
    const detail = result.error.issues.slice(0, 3).map(i => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
    throw new CommandError('invalid_payload', `${type}: ${detail}`);
  }
  return result.data;
}
