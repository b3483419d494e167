import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { exampleEnv } from '../../shared/example-app';
import { LocalDynamoDb, startLocalDynamoDb } from '../../shared/local-dynamodb';
import { CanvasStack } from '../app';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { boardBytes, setPixel } from '../server/board';
import { Placement, PlacementLog } from '../server/placements';
import { decodeFrame, Update } from '../server/protocol';
import { laneOf, PLACEMENTS_TABLE_KEY } from '../server/table';
import { historyAfter, HISTORY_PAGES_PER_ADDRESS, HISTORY_SETTLED_MS } from '../server/timelapse';

const ENTRY = path.join(__dirname, '..', 'server', 'server.ts');
const SIZE = { width: 32, height: 32 };

// DynamoDB's documented numbers:
// - every partition, of a table or of a global secondary index, takes at most 1,000 write units a second,
//   one write unit being one write of up to 1 KB
//   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html);
// - an index partition that cannot take its writes throttles the writes to the table
//   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/gsi-throttling.html);
// - an index entry holds the table's primary key, the index key and the projected attributes
//   (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GlobalSecondaryIndex.html); an item
//   is its attributes plus 100 bytes of indexing overhead, a number attribute being its name's bytes, one
//   byte per two significant digits and one byte
//   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
const PARTITION_WRITE_UNITS_PER_SECOND = 1000;
const WRITE_UNIT_BYTES = 1024;
const INDEX_ENTRY_OVERHEAD_BYTES = 100;
/** The placement rate the canvas must take (`npm run bench -- canvas`, one process). */
const TARGET_PLACEMENTS_PER_SECOND = 5000;

function numberBytes(name: string, value: number): number {
  const digits = String(value).replace(/^0+|0+$/g, '').length || 1;
  return Buffer.byteLength(name) + Math.ceil(digits / 2) + 1;
}

/** The largest write units one second of `rate` consecutive placements puts on any index partition. */
function busiestIndexPartition(rate: number, indexEntryBytes: number, firstSeq: number): number {
  const perLane = new Map<number, number>();
  for (let seq = firstSeq; seq < firstSeq + rate; seq++) {
    perLane.set(laneOf(seq), (perLane.get(laneOf(seq)) ?? 0) + 1);
  }
  return Math.max(...perLane.values()) * Math.ceil(indexEntryBytes / WRITE_UNIT_BYTES);
}

describe('the sequence index of the placements table', () => {
  let template: Template;
  beforeAll(() => {
    template = Template.fromStack(new CanvasStack(new App(), 'Canvas', { env: exampleEnv() }));
  });

  test('the server may query the index, and no other', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
      .map((st: any) => JSON.stringify(st));
    const index = statements.filter(st => st.includes('/index/'));
    expect(index).toHaveLength(1);
    expect(JSON.parse(index[0]).Action).toBe('dynamodb:Query');
    expect(index[0]).toContain('"/index/bySeq"');
    expect(statements.filter(st => st.includes('/index/*'))).toEqual([]);
  });

  test(`takes ${TARGET_PLACEMENTS_PER_SECOND} placements a second without any partition over DynamoDB's per-partition write limit`, () => {
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table')) as any[];
    expect(tables).toHaveLength(1);
    const table = tables[0].Properties;
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.GlobalSecondaryIndexes).toHaveLength(1);
    const index = table.GlobalSecondaryIndexes[0];
    const hash = index.KeySchema.find((k: any) => k.KeyType === 'HASH').AttributeName;
    const range = index.KeySchema.find((k: any) => k.KeyType === 'RANGE').AttributeName;
    // The index is keyed on the lane the code gives each placement, in sequence order.
    expect([hash, range]).toEqual(['lane', 'seq']);
    expect(index.Projection.ProjectionType).toBe('INCLUDE');

    // The largest index entry a placement can make: every number at its widest.
    const widest: Record<string, number> = { pixel: 4096 * 4096 - 1, seq: 0xffffffff, x: 4095, y: 4095, color: 15, time: Date.UTC(2286, 0), lane: 0 };
    widest.lane = Math.max(...Array.from({ length: 1000 }, (_, i) => laneOf(i)));
    const tableKey = table.KeySchema.map((k: any) => k.AttributeName);
    const entry = [...tableKey, hash, range, ...index.Projection.NonKeyAttributes];
    expect(entry.every(name => name in widest)).toBe(true);
    const entryBytes = entry.reduce((sum, name) => sum + numberBytes(name, widest[name]), INDEX_ENTRY_OVERHEAD_BYTES);
    expect(entryBytes).toBeLessThanOrEqual(WRITE_UNIT_BYTES);

    for (const firstSeq of [1, 123_457, 0xffffffff - TARGET_PLACEMENTS_PER_SECOND]) {
      expect(busiestIndexPartition(TARGET_PLACEMENTS_PER_SECOND, entryBytes, firstSeq)).toBeLessThanOrEqual(PARTITION_WRITE_UNITS_PER_SECOND);
      // With room to spare: twice the target still fits.
      expect(busiestIndexPartition(2 * TARGET_PLACEMENTS_PER_SECOND, entryBytes, firstSeq)).toBeLessThanOrEqual(PARTITION_WRITE_UNITS_PER_SECOND);
    }
    // The check itself can fail: one partition key for every placement would be five times over the limit.
    const oneKey = TARGET_PLACEMENTS_PER_SECOND * Math.ceil(entryBytes / WRITE_UNIT_BYTES);
    expect(oneKey).toBeGreaterThan(PARTITION_WRITE_UNITS_PER_SECOND);
  });
});

describe('GET /api/history against a DynamoDB-API store', () => {
  let dynamo: LocalDynamoDb;
  let log: PlacementLog;
  let server: ServerProcess;
  const stored: Placement[] = [];
  const base = () => `http://127.0.0.1:${server.port}`;

  beforeAll(async () => {
    dynamo = await startLocalDynamoDb();
    await dynamo.createTable('placements', PLACEMENTS_TABLE_KEY);
    log = new PlacementLog({ tableName: 'placements', endpoint: dynamo.endpoint });
    // 600 placements an hour old, with gaps (sequence numbers of placements that were taken back) and
    // many on the same pixels, then 40 just now.
    const hourAgo = Date.now() - 3_600_000;
    for (let seq = 1, n = 0; n < 640; seq++) {
      if (seq % 29 === 0) {
        continue;
      }
      const x = (seq * 7) % SIZE.width;
      const y = (seq * 3) % SIZE.height;
      stored.push({ pixel: y * SIZE.width + x, seq, x, y, color: seq % 16, user: `u${seq % 13}`, time: n < 600 ? hourAgo + seq : Date.now() });
      n++;
    }
    await Promise.all(stored.map(p => log.append(p)));
    server = await startServer(ENTRY, {
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      CANVAS_TABLE: 'placements',
      CANVAS_TOKEN_SECRET: 'timelapse-test-secret',
      CANVAS_WIDTH: String(SIZE.width),
      CANVAS_HEIGHT: String(SIZE.height),
      LOG_LEVEL: 'warn',
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    log?.close();
    await dynamo?.stop();
  });

  async function page(query: string): Promise<{ status: number; cache: string | null; updates: Update[]; body: Buffer }> {
    const res = await fetch(`${base()}/api/history?${query}`);
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, cache: res.headers.get('cache-control'), body, updates: res.ok ? decodeFrame(body) : [] };
  }

  async function allPages(limit: number): Promise<Update[][]> {
    const pages: Update[][] = [];
    for (let after = 0; ;) {
      const { status, updates } = await page(`after=${after}&limit=${limit}`);
      expect(status).toBe(200);
      if (updates.length === 0) {
        return pages;
      }
      pages.push(updates);
      after = updates[updates.length - 1].seq;
    }
  }

  test('every stored placement carries its lane of the sequence index', async () => {
    const items = await Promise.all([5, 100, 639].map(seq => log.history(stored.find(p => p.seq === seq)!.pixel, 100)));
    for (const [i, seq] of [5, 100, 639].entries()) {
      expect((items[i].find(p => p.seq === seq) as any).lane).toBe(laneOf(seq));
    }
  });

  test('pages list every placement once, in sequence order, across all lanes', async () => {
    const pages = await allPages(37);
    expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(stored.length / 37));
    for (const p of pages) {
      expect(p.length).toBeLessThanOrEqual(37);
    }
    const seqs = pages.flat().map(u => u.seq);
    expect(seqs).toEqual(stored.map(p => p.seq));
    // x, y and colour as stored.
    const bySeq = new Map(stored.map(p => [p.seq, p]));
    for (const u of pages.flat()) {
      const p = bySeq.get(u.seq)!;
      expect([u.x, u.y, u.color]).toEqual([p.x, p.y, p.color]);
    }
    // A larger page is the same history.
    expect((await allPages(1000)).flat()).toEqual(pages.flat());
  });

  test('replaying every page onto an empty board gives the board rebuilt from the table', async () => {
    // Plus placements through the server, which stores them with their lane as it answers.
    const placed: number[] = [];
    for (const [i, address] of ['198.51.100.7', '198.51.100.8', '2001:db8:7::1'].entries()) {
      const session = await fetch(`${base()}/api/session`, { method: 'POST', headers: { 'x-forwarded-for': address } });
      const { token } = await session.json();
      const res = await fetch(`${base()}/api/pixel`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'authorization': `Bearer ${token}`, 'x-forwarded-for': address },
        body: JSON.stringify({ x: 3 + i, y: 30, color: 9 + i }),
      });
      expect(res.status).toBe(200);
      placed.push((await res.json()).seq);
    }
    const replayed = Buffer.alloc(boardBytes(SIZE));
    const pages = await allPages(100);
    for (const u of pages.flat()) {
      setPixel(replayed, u.y * SIZE.width + u.x, u.color);
    }
    expect(pages.flat().slice(-3).map(u => u.seq)).toEqual(placed);
    const rebuilt = await log.rebuild(SIZE);
    expect(rebuilt.placements).toBe(stored.length + 3);
    expect(replayed.equals(rebuilt.bytes)).toBe(true);
  });

  test('a full page of settled history may be cached for a day; the newest pages for a second', async () => {
    const first = await page('after=0&limit=100');
    expect(first.updates).toHaveLength(100);
    expect(first.cache).toBe('public, max-age=86400, immutable');
    expect((await page('after=0&limit=100')).body.equals(first.body)).toBe(true);
    // Reaching into the placements made just now: they may still gain a neighbour that is being stored.
    const recent = await page(`after=${stored[590].seq}&limit=100`);
    expect(recent.updates.length).toBeGreaterThan(0);
    expect(recent.cache).toBe('public, max-age=1');
    // The end of the history: more will come.
    const last = stored[stored.length - 1].seq;
    const tail = await page(`after=${last + 100}&limit=100`);
    expect(tail.updates).toEqual([]);
    expect(tail.cache).toBe('public, max-age=1');
  });

  test('a page is complete only when it is full and its newest placement is older than the settling time', async () => {
    const now = Date.now();
    const full = await historyAfter(log, 0, 50, now);
    expect(full.updates).toHaveLength(50);
    expect(full.complete).toBe(true);
    // The same page seen right after its newest placement was made is not complete yet.
    const newest = Math.max(...stored.filter(p => full.updates.some(u => u.seq === p.seq)).map(p => p.time));
    expect((await historyAfter(log, 0, 50, newest + HISTORY_SETTLED_MS - 1)).complete).toBe(false);
    expect((await historyAfter(log, 0, 50, newest + HISTORY_SETTLED_MS)).complete).toBe(true);
    // A page that reaches the end of the history is never complete, however old.
    const end = await historyAfter(log, stored[stored.length - 10].seq, 50, now + 3_600_000);
    expect(end.updates.length).toBeGreaterThan(0);
    expect(end.complete).toBe(false);
  });

  test.each([
    ['after=-1', 'bad_after'],
    ['after=abc', 'bad_after'],
    ['after=1.5', 'bad_after'],
    ['after=', 'bad_after'],
    ['after=4294967296', 'bad_after'],
    ['after=0&limit=0', 'bad_limit'],
    ['after=0&limit=10001', 'bad_limit'],
    ['after=0&limit=', 'bad_limit'],
    ['after=0&limit=1e3', 'bad_limit'],
  ])('%s answers 400 %s', async (query, code) => {
    const res = await fetch(`${base()}/api/history?${query}`);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe(code);
  });
});

// Every page costs a query per lane: one address gets a bounded number of pages in a window, counted in
// Redis, so two servers together give it no more.
describe('GET /api/history per client address over two servers on one Redis', () => {
  let local: LocalCanvas;
  let servers: ServerProcess[] = [];

  beforeAll(async () => {
    local = await startLocalCanvas('timelapse-test-redis-password');
    const env = await local.serverEnv('placements', { CANVAS_WIDTH: '16', CANVAS_HEIGHT: '16', LOG_LEVEL: 'warn' });
    servers = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map(s => s.stop()));
    await local?.stop();
  });

  test(`one address gets ${HISTORY_PAGES_PER_ADDRESS} requests a window over both servers, then 429 with Retry-After; others are not held up`, async () => {
    const ask = (i: number, address: string, query = `after=${i}&limit=10`) =>
      fetch(`http://127.0.0.1:${servers[i % 2].port}/api/history?${query}`, { headers: { 'x-forwarded-for': address } });
    // The address varies within one IPv6 /64. Five pages, then malformed requests (answered without a
    // query, so all of them fall in one window however slow the machine): together the limit.
    for (let i = 0; i < 5; i++) {
      expect((await ask(i, `2001:db8:1:2::${i}`)).status).toBe(200);
    }
    const malformed = await Promise.all(Array.from({ length: HISTORY_PAGES_PER_ADDRESS - 5 }, (_, i) => ask(i, `2001:db8:1:2::1:${i.toString(16)}`, 'after=x')));
    expect(malformed.map(r => r.status)).toEqual(Array(HISTORY_PAGES_PER_ADDRESS - 5).fill(400));
    for (const [i, query] of ['after=0&limit=10', 'after=x'].entries()) {
      const refused = await ask(i, '2001:db8:1:2:ffff::1', query);
      expect(refused.status).toBe(429);
      expect((await refused.json()).error).toBe('too_many_history_pages');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect((await ask(0, '2001:db8:1:3::1')).status).toBe(200);
    expect((await ask(1, '198.51.100.20')).status).toBe(200);
  });
});
