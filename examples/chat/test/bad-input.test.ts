import { ChatClient } from './chat-client';
import { CHAT_ENTRY, chatEnv, startChatTables } from './local-chat';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { LocalDynamoDb } from '../../shared/local-dynamodb';
import { encodeCursor } from '../server/messages';
import { SessionSigner } from '../server/sessions';

const SECRET = chatEnv({ endpoint: '' } as LocalDynamoDb).CHAT_SESSION_SECRET;


/** What a connection has done before the bad frame. */
type Stage = 'fresh' | 'logged in' | 'in general';

// One server on its embedded defaults (in-memory bus, presence and throttles) and dynalite.
let dynamo: LocalDynamoDb;
let server: ServerProcess;
let token: string;
const open: ChatClient[] = [];

beforeAll(async () => {
  dynamo = await startChatTables();
  server = await startServer(CHAT_ENTRY, chatEnv(dynamo));
  const first = await ChatClient.connect(server.port);
  token = (await first.register('tester', 'tester-password')).token;
  await first.close();
}, 60_000);

afterEach(async () => {
  await Promise.all(open.splice(0).map(c => c.close()));
});

afterAll(async () => {
  await server?.stop();
  await dynamo?.stop();
});

async function client(stage: Stage): Promise<ChatClient> {
  const c = await ChatClient.connect(server.port);
  open.push(c);
  if (stage !== 'fresh') {
    await c.resume(token);
  }
  if (stage === 'in general') {
    await c.join('general');
  }
  return c;
}

const long = (n: number) => 'x'.repeat(n);

describe('every bad frame gets its own error code, and the connection stays usable', () => {
  test.each<[string, Stage, string, string | Buffer | Record<string, unknown>]>([
    // Frames
    ['text that is not JSON', 'fresh', 'bad_json', '{"type":"room_list",'],
    ['a JSON array', 'fresh', 'bad_message', '[1,2,3]'],
    ['an object without a type', 'fresh', 'bad_message', { id: 1 }],
    ['a type that is not a string', 'fresh', 'bad_message', { type: 7, id: 1 }],
    ['a negative id', 'fresh', 'bad_message', { type: 'room_list', id: -1 }],
    ['a binary frame', 'fresh', 'bad_message', Buffer.from([1, 2, 3])],
    ['an unknown type', 'fresh', 'unknown_type', { type: 'delete_everything', id: 1 }],
    ['a type from Object.prototype', 'fresh', 'unknown_type', { type: 'constructor', id: 1 }],
    ['a request without its id', 'fresh', 'invalid_request', { type: 'room_list' }],
    ['an unknown field', 'in general', 'invalid_request', { type: 'new_message', id: 1, room: 'general', text: 'hi', admin: true }],
    ['a missing field', 'logged in', 'invalid_request', { type: 'join_room', id: 1 }],
    ['a field of the wrong type', 'in general', 'invalid_request', { type: 'new_message', id: 1, room: 'general', text: 5 }],
    ['a frame over 16 KiB', 'in general', 'frame_too_large', { type: 'new_message', id: 1, room: 'general', text: long(20_000) }],
    // Accounts
    ['a user name too short', 'fresh', 'invalid_username', { type: 'create_user', id: 1, username: 'ab', password: 'long-enough' }],
    ['a user name with a space', 'fresh', 'invalid_username', { type: 'create_user', id: 1, username: 'a b c', password: 'long-enough' }],
    ['a user name too long', 'fresh', 'invalid_username', { type: 'create_user', id: 1, username: long(21), password: 'long-enough' }],
    ['the reserved anonymous prefix', 'fresh', 'invalid_username', { type: 'create_user', id: 1, username: 'anonymous_abc123', password: 'long-enough' }],
    ['a password too short', 'fresh', 'invalid_password', { type: 'create_user', id: 1, username: 'shorty', password: 'seven77' }],
    ['a password too long', 'fresh', 'invalid_password', { type: 'create_user', id: 1, username: 'longy', password: long(129) }],
    ['an unknown user', 'fresh', 'bad_credentials', { type: 'authenticate_user', id: 1, username: 'nobody', password: 'long-enough' }],
    ['a wrong password', 'fresh', 'bad_credentials', { type: 'authenticate_user', id: 1, username: 'tester', password: 'wrong-password' }],
    ['a taken user name', 'fresh', 'username_taken', { type: 'create_user', id: 1, username: 'TESTER', password: 'long-enough' }],
    ['a garbage session token', 'fresh', 'bad_token', { type: 'resume_session', id: 1, token: 'v1.tester.9999999999.forged' }],
    ['a second log-in', 'logged in', 'already_logged_in', { type: 'anonymous_user', id: 1 }],
    ['a token with a forged session id', 'fresh', 'bad_token', { type: 'resume_session', id: 1, token: 'v2.tester.AAAAAAAAAAAAAAAAAAAAAA.9999999999.forged' }],
    ['a well-signed token of a session never recorded', 'fresh', 'bad_token', { type: 'resume_session', id: 1, token: new SessionSigner(SECRET).issue('tester').token }],
    ['logging out before logging in', 'fresh', 'not_logged_in', { type: 'log_out', id: 1 }],
    ['log_out with everywhere not a boolean', 'logged in', 'invalid_request', { type: 'log_out', id: 1, everywhere: 'yes' }],
    // Not logged in
    ['joining before logging in', 'fresh', 'not_logged_in', { type: 'join_room', id: 1, room: 'general' }],
    ['sending before logging in', 'fresh', 'not_logged_in', { type: 'new_message', id: 1, room: 'general', text: 'hi' }],
    ['reading history before logging in', 'fresh', 'not_logged_in', { type: 'message_list', id: 1, room: 'general' }],
    ['typing before logging in', 'fresh', 'not_logged_in', { type: 'typing', room: 'general' }],
    ['asking who is in a room before logging in', 'fresh', 'not_logged_in', { type: 'room_members', id: 1, room: 'general' }],
    // Rooms and messages
    ['an unknown room', 'logged in', 'unknown_room', { type: 'join_room', id: 1, room: 'secret' }],
    ['history of an unknown room', 'logged in', 'unknown_room', { type: 'message_list', id: 1, room: 'secret' }],
    ['members of an unknown room', 'logged in', 'unknown_room', { type: 'room_members', id: 1, room: 'secret' }],
    ['unread counts since something that is not a message id', 'fresh', 'invalid_request', { type: 'room_list', id: 1, since: { general: 'yesterday' } }],
    ['sending to a room not joined', 'logged in', 'not_in_room', { type: 'new_message', id: 1, room: 'general', text: 'hi' }],
    ['sending to another room than the joined one', 'in general', 'not_in_room', { type: 'new_message', id: 1, room: 'random', text: 'hi' }],
    ['typing in a room not joined', 'in general', 'not_in_room', { type: 'typing', id: 1, room: 'random' }],
    ['an empty message', 'in general', 'invalid_text', { type: 'new_message', id: 1, room: 'general', text: '' }],
    ['a message of spaces', 'in general', 'invalid_text', { type: 'new_message', id: 1, room: 'general', text: ' \n\t ' }],
    ['a message of 1001 characters', 'in general', 'invalid_text', { type: 'new_message', id: 1, room: 'general', text: long(1001) }],
    ['a cursor that is not base64url', 'in general', 'bad_cursor', { type: 'message_list', id: 1, room: 'general', cursor: 'not a cursor!' }],
    ['a cursor of another room', 'in general', 'bad_cursor', { type: 'message_list', id: 1, room: 'general', cursor: encodeCursor('random', '1700000000000-0123456789abcdef') }],
    ['a cursor with a malformed key', 'in general', 'bad_cursor', { type: 'message_list', id: 1, room: 'general', cursor: encodeCursor('general', '1; drop table') }],
    ['a cursor with extra keys', 'in general', 'bad_cursor', { type: 'message_list', id: 1, room: 'general', cursor: Buffer.from(JSON.stringify({ room: 'general', message: '1700000000000-0123456789abcdef', x: 1 })).toString('base64url') }],
  ])('%s (%s) → %s', async (_name, stage, expected, frame) => {
    const c = await client(stage);
    const from = c.mark();
    c.ws.send(Buffer.isBuffer(frame) || typeof frame === 'string' ? frame : JSON.stringify(frame), { binary: Buffer.isBuffer(frame) });
    const error = await c.waitFor(e => e.type === 'error', 5000, from);
    // The answer names the request's id, unless the server could not read the frame.
    const id = typeof frame === 'object' && !Buffer.isBuffer(frame) && 'id' in frame && expected !== 'frame_too_large' ? { id: frame.id } : {};
    expect(error).toEqual({ type: 'error', code: expected, message: expect.any(String), ...id });
    // Still usable: a request gets its ack, and a member can still send.
    expect((await c.rooms()).rooms.map(r => r.name)).toEqual(['general', 'random', 'help', 'aws']);
    if (stage === 'in general') {
      expect((await c.say('general', 'still here')).text).toBe('still here');
    }
    expect(c.ws.readyState).toBe(c.ws.OPEN);
  });

  test('a frame over 64 KiB closes the connection with 1009; the server keeps serving', async () => {
    const c = await client('in general');
    c.send({ type: 'new_message', id: 1, room: 'general', text: long(70_000) });
    expect((await c.closed).code).toBe(1009);
    const other = await client('in general');
    expect((await other.say('general', 'after the big one')).text).toBe('after the big one');
  });

  test('a flooding connection gets rate_limited, then is served again', async () => {
    const c = await client('logged in');
    const from = c.mark();
    for (let i = 0; i < 60; i++) {
      c.send({ type: 'typing', room: 'general' });
    }
    expect(await c.waitFor(e => e.type === 'error' && e.code === 'rate_limited', 5000, from)).toEqual({
      type: 'error', code: 'rate_limited', message: 'at most 20 messages a second', retryAfterMs: expect.any(Number),
    });
    await new Promise(r => setTimeout(r, 1500));
    expect((await c.rooms()).rooms).toHaveLength(4);
  });

  test('malformed percent-encoding in a URL answers 400, on HTTP and on the WebSocket path', async () => {
    for (const path of ['/%zz', '/ws%E0%A4%A']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
      expect([path, res.status, await res.json()]).toEqual([path, 400, { error: 'bad_url', message: 'the request URL is malformed (check its percent-encoding)' }]);
    }
    await expect(ChatClient.connect(`ws://127.0.0.1:${server.port}/ws%zz`)).rejects.toThrow('HTTP 400 on upgrade');
  });

  test('the local search stand-in is off unless CHAT_LOCAL_SEARCH=1', async () => {
    expect((await fetch(`http://127.0.0.1:${server.port}/search?q=hello`)).status).toBe(404);
  });
});
