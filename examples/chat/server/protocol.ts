import { z } from 'zod';

/**
 * The chat wire protocol (PROTOCOL.md): JSON text frames on `/ws`. A client request is
 * `{ "type": "<request>", "id": <n>, ...fields }`; the server answers it with `{ "type": "ack", "id", "result" }`
 * or `{ "type": "error", "id", "code", "message" }`. `typing` and `stop_typing` take no ack.
 */

/** Limits, in one place for the server, the page and the tests. */
export const LIMITS = {
  /** Lower-case letters, digits and `_`, 3 to 20 characters (input is lower-cased first). */
  usernamePattern: /^[a-z0-9_]{3,20}$/,
  /** Prefix the server keeps for its generated anonymous names. */
  reservedPrefix: 'anonymous_',
  passwordMin: 8,
  passwordMax: 128,
  /** Characters (code points) of a message after trimming. */
  textMax: 1000,
  /** Messages per history page. */
  pageSize: 20,
  /** Failed log-ins per username, and per connection, in `loginWindowSeconds`. */
  loginFailures: 5,
  loginWindowSeconds: 60,
  /** Random characters (a-z, 0-9) after `anonymous_`: 36^10, about 2^52 names. */
  anonymousNameLength: 10,
  /** Events a joining connection holds back while its first history page is read; more are dropped. */
  joinBufferEvents: 1000,
  /** Most names `room_members` answers. */
  membersListMax: 100,
  /** Text frames above this get `frame_too_large`; above `maxFrameBytes` the socket is closed with 1009. */
  maxMessageBytes: 16 * 1024,
  maxFrameBytes: 64 * 1024,
} as const;

const RequestId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Room names are checked against the configured list; this only bounds them. */
const Room = z.string().max(64);
/** A message id as the server makes them. */
const MessageId = z.string().regex(/^\d{13}-[0-9a-f]{16}$/, 'a message id');

/** What the kit checks on every frame: a JSON object with a `type` (and maybe an `id`). */
export const Envelope = z.looseObject({
  type: z.string().max(64),
  id: RequestId.optional(),
});
export type Envelope = z.infer<typeof Envelope>;

/** The requests a client may send, each a strict object: unknown fields are refused. */
export const Requests = {
  create_user: z.strictObject({ type: z.literal('create_user'), id: RequestId, username: z.string().max(256), password: z.string().max(1024) }),
  authenticate_user: z.strictObject({ type: z.literal('authenticate_user'), id: RequestId, username: z.string().max(256), password: z.string().max(1024) }),
  anonymous_user: z.strictObject({ type: z.literal('anonymous_user'), id: RequestId }),
  resume_session: z.strictObject({ type: z.literal('resume_session'), id: RequestId, token: z.string().max(512) }),
  log_out: z.strictObject({ type: z.literal('log_out'), id: RequestId, everywhere: z.boolean().optional() }),
  room_list: z.strictObject({ type: z.literal('room_list'), id: RequestId, since: z.record(Room, MessageId).optional() }),
  room_members: z.strictObject({ type: z.literal('room_members'), id: RequestId, room: Room }),
  join_room: z.strictObject({ type: z.literal('join_room'), id: RequestId, room: Room }),
  new_message: z.strictObject({ type: z.literal('new_message'), id: RequestId, room: Room, text: z.string() }),
  message_list: z.strictObject({ type: z.literal('message_list'), id: RequestId, room: Room, cursor: z.string().max(1024).optional() }),
  typing: z.strictObject({ type: z.literal('typing'), id: RequestId.optional(), room: Room }),
  stop_typing: z.strictObject({ type: z.literal('stop_typing'), id: RequestId.optional(), room: Room }),
} as const;

export type RequestType = keyof typeof Requests;
export type Request = { [K in RequestType]: z.infer<(typeof Requests)[K]> }[RequestType];

/** A stored message, as acks, `new_message` events, history pages and the search index carry it. */
export interface ChatMessage {
  readonly room: string;
  /** `<13-digit epoch ms>-<16 hex>`: unique, and sorts chronologically. */
  readonly message: string;
  readonly username: string;
  readonly text: string;
  /** Epoch milliseconds. */
  readonly time: number;
}

/** The result of a successful log-in (`create_user`, `authenticate_user`, `anonymous_user`, `resume_session`). */
export interface Session {
  readonly username: string;
  readonly anonymous: boolean;
  /** Give it to `resume_session` after a reconnect. */
  readonly token: string;
  /** Epoch ms after which the token is refused: a fixed time after the log-in, never extended by a resume. */
  readonly expiresAt: number;
}

/** The ack of `join_room`: the room's count and its newest history page, read after the join took effect. */
export interface JoinResult {
  readonly room: string;
  readonly numUsers: number;
  readonly messages: ChatMessage[];
  readonly next?: string;
}

/** Events the server pushes. */
export type ServerEvent =
  | { type: 'ack'; id: number; result: unknown }
  | { type: 'error'; id?: number; code: ErrorCode; message: string; retryAfterMs?: number }
  | { type: 'presence'; room: string; numUsers: number }
  | { type: 'user_joined'; room: string; username: string; numUsers: number }
  | { type: 'user_left'; room: string; username: string; numUsers: number }
  | ({ type: 'new_message' } & ChatMessage)
  | { type: 'typing'; room: string; username: string }
  | { type: 'stop_typing'; room: string; username: string }
  | { type: 'logged_out'; reason: 'log_out' | 'log_out_everywhere' };

/** Every `code` an error frame can carry. */
export const ERROR_CODES = [
  // Frames
  'bad_json', 'bad_message', 'unknown_type', 'invalid_request', 'frame_too_large', 'rate_limited', 'busy',
  // Accounts
  'invalid_username', 'invalid_password', 'username_taken', 'bad_credentials', 'bad_token', 'already_logged_in', 'not_logged_in',
  // Rooms and messages
  'unknown_room', 'not_in_room', 'invalid_text', 'bad_cursor',
  // The server
  'unavailable', 'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Formats zod issues the way the kit does: `path: message; ...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map(i => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ');
}
