import { createHash, timingSafeEqual } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * FAKE OpenSearch: a local HTTP stand-in for an OpenSearch Serverless collection (`aoss`) or a managed
 * domain (`es`), for tests only. It checks every request's SigV4 signature the way AWS does (rebuilding
 * the canonical request from what arrived on the wire and signing it again with the known credentials),
 * and implements just enough of OpenSearch: create index, `_bulk`, `_search`, the security plugin's role
 * and role mapping PUTs with their validation (es only), plus fault injection.
 */

export interface TestCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export const TEST_CREDENTIALS: TestCredentials = {
  accessKeyId: 'AKIDFAKEOPENSEARCH01',
  secretAccessKey: 'fake-secret-key-for-sigv4-tests/0123456789',
  sessionToken: 'fake-session-token',
};

export const TEST_REGION = 'eu-west-1';

export interface FakeOpenSearchOptions {
  /** The SigV4 service every request must be signed for. */
  readonly service: 'aoss' | 'es';
  readonly region?: string;
  readonly credentials?: TestCredentials;
}

export interface RecordedRequest {
  readonly method: string;
  /** Path as received, still URI-encoded. */
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Status the fake answered. */
  status: number;
  /** Why the signature check refused the request, when it did. */
  rejected?: string;
}

export interface StoredIndex {
  /** The `mappings` of the create-index body; undefined when a bulk write created the index implicitly. */
  readonly mappings: any;
  /** The whole create-index body. */
  readonly createBody: any;
  readonly docs: Map<string, Record<string, unknown>>;
}

/** A canned answer for the next requests that match. */
export interface Fault {
  /** Requests it applies to; every request when absent. */
  readonly match?: (req: RecordedRequest) => boolean;
  /** How many matching requests get it. */
  times: number;
  readonly status: number;
  readonly body?: unknown;
}

/** A per-item result for bulk actions on one document id. */
export interface ItemFault {
  readonly id: string;
  times: number;
  readonly status: number;
  readonly type: string;
}

export class FakeOpenSearch {
  static async start(options: FakeOpenSearchOptions): Promise<FakeOpenSearch> {
    const fake = new FakeOpenSearch(options);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    return fake;
  }

  readonly service: 'aoss' | 'es';
  readonly region: string;
  readonly credentials: TestCredentials;
  readonly requests: RecordedRequest[] = [];
  readonly indices = new Map<string, StoredIndex>();
  /** Bodies of `_search` requests, parsed. */
  readonly searches: any[] = [];
  /** Security plugin state (es only): role name → body, and role name → mapping body. */
  readonly roles = new Map<string, any>();
  readonly roleMappings = new Map<string, any>();
  /** Hits `_search` answers with instead of its naive prefix match, when set. */
  searchHits?: Array<{ _id: string; _score: number | null; _source: Record<string, unknown> }>;

  private readonly server: http.Server;
  private readonly faults: Fault[] = [];
  private readonly itemFaults: ItemFault[] = [];

  private constructor(options: FakeOpenSearchOptions) {
    this.service = options.service;
    this.region = options.region ?? TEST_REGION;
    this.credentials = options.credentials ?? TEST_CREDENTIALS;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(err => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'fake_internal_error', reason: String(err) } }));
      });
    });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Answers the next `times` matching requests with `status` (after the signature check passed). */
  inject(fault: Fault): void {
    this.faults.push(fault);
  }

  /** Bulk actions on `id` get this item status for the next `times` bulk requests that contain it. */
  failItem(fault: ItemFault): void {
    this.itemFaults.push(fault);
  }

  /** Forget indices, requests, faults and canned hits. */
  reset(): void {
    this.requests.length = 0;
    this.searches.length = 0;
    this.indices.clear();
    this.roles.clear();
    this.roleMappings.clear();
    this.faults.length = 0;
    this.itemFaults.length = 0;
    this.searchHits = undefined;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://fake');
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: raw.toString('utf8'),
      status: 0,
    };
    this.requests.push(recorded);
    const reply = (status: number, body: unknown): void => {
      recorded.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };

    const refusal = await this.verifySignature(req, url, raw);
    if (refusal) {
      recorded.rejected = refusal;
      reply(403, { message: refusal });
      return;
    }
    const fault = this.faults.find(f => f.times > 0 && (!f.match || f.match(recorded)));
    if (fault) {
      fault.times--;
      reply(fault.status, fault.body ?? { error: { type: 'injected_fault', reason: `injected ${fault.status}` }, status: fault.status });
      return;
    }
    const [status, body] = this.route(recorded);
    reply(status, body);
  }

  /** Why the request's signature is not valid, or undefined when it is. */
  private async verifySignature(req: http.IncomingMessage, url: URL, body: Buffer): Promise<string | undefined> {
    const auth = req.headers.authorization;
    const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/
      .exec(auth ?? '');
    if (!match) {
      return `missing or malformed Authorization header: ${auth}`;
    }
    const [, accessKeyId, scopeDate, region, service, signedHeaderList] = match;
    if (accessKeyId !== this.credentials.accessKeyId) {
      return `unknown access key ${accessKeyId}`;
    }
    if (service !== this.service) {
      return `credential scope names service ${service}, this endpoint is ${this.service}`;
    }
    if (region !== this.region) {
      return `credential scope names region ${region}, this endpoint is in ${this.region}`;
    }
    const amzDate = header(req, 'x-amz-date');
    const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate ?? '');
    if (!dateMatch || !amzDate!.startsWith(scopeDate)) {
      return `x-amz-date ${amzDate} is missing or does not match the scope date ${scopeDate}`;
    }
    const signingDate = new Date(`${dateMatch[1]}-${dateMatch[2]}-${dateMatch[3]}T${dateMatch[4]}:${dateMatch[5]}:${dateMatch[6]}Z`);
    if (Math.abs(Date.now() - signingDate.getTime()) > 5 * 60_000) {
      return 'signature expired: x-amz-date is more than 5 minutes away';
    }
    const bodyHash = createHash('sha256').update(body).digest('hex');
    if (header(req, 'x-amz-content-sha256') !== bodyHash) {
      return `x-amz-content-sha256 is missing or not the SHA-256 of the body (${header(req, 'x-amz-content-sha256')})`;
    }
    if (header(req, 'x-amz-security-token') !== this.credentials.sessionToken) {
      return 'x-amz-security-token does not match the credentials';
    }
    const signedHeaders = signedHeaderList.split(';');
    for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
      if (!signedHeaders.includes(required)) {
        return `${required} is not among the signed headers`;
      }
    }
    // Rebuild the request from the wire: the signed headers' received values, the received path, query
    // and body. The signer adds x-amz-date and the token from what it is given, as AWS does.
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = header(req, name);
      if (value === undefined) {
        return `signed header ${name} is missing`;
      }
      headers[name] = value;
    }
    const query: Record<string, string | string[]> = {};
    for (const key of new Set(url.searchParams.keys())) {
      const values = url.searchParams.getAll(key);
      query[key] = values.length === 1 ? values[0] : values;
    }
    const signer = new SignatureV4({
      credentials: this.credentials,
      region: this.region,
      service: this.service,
      sha256: Hash.bind(null, 'sha256'),
    });
    const expected = await signer.sign(
      { method: req.method ?? '', protocol: 'http:', hostname: headers.host ?? '', path: url.pathname, query, headers, body },
      { signingDate, signableHeaders: new Set(signedHeaders) },
    );
    const expectedAuth = Buffer.from(expected.headers.authorization);
    if (expectedAuth.length !== Buffer.byteLength(auth!) || !timingSafeEqual(expectedAuth, Buffer.from(auth!))) {
      return 'The request signature we calculated does not match the signature you provided.';
    }
    return undefined;
  }

  private route(req: RecordedRequest): [number, unknown] {
    const segments = req.path.split('/').filter(s => s.length > 0).map(decodeURIComponent);
    if (segments[0] === '_plugins' && segments[1] === '_security' && segments[2] === 'api' && segments.length === 5) {
      return this.security(req, segments[3], segments[4]);
    }
    if (segments.length === 1 && req.method === 'PUT' && !segments[0].startsWith('_')) {
      return this.createIndex(segments[0], req);
    }
    if (segments.length === 2 && segments[1] === '_bulk' && req.method === 'POST') {
      return this.bulk(segments[0], req);
    }
    if (segments.length === 2 && segments[1] === '_search' && req.method === 'POST') {
      return this.search(segments[0], req);
    }
    return [404, { error: { type: 'fake_route_not_found', reason: `no route for ${req.method} ${req.path}` }, status: 404 }];
  }

  private createIndex(name: string, req: RecordedRequest): [number, unknown] {
    if (this.indices.has(name)) {
      return error(400, 'resource_already_exists_exception', `index [${name}/abc] already exists`);
    }
    let body: any;
    try {
      body = req.body ? JSON.parse(req.body) : {};
    } catch {
      return error(400, 'parse_exception', 'request body is not valid JSON');
    }
    if (this.service === 'aoss' && body.settings?.index?.number_of_shards !== undefined) {
      return error(400, 'illegal_argument_exception', 'number_of_shards is not supported by OpenSearch Serverless');
    }
    this.indices.set(name, { mappings: body.mappings, createBody: body, docs: new Map() });
    return [200, { acknowledged: true, shards_acknowledged: true, index: name }];
  }

  private bulk(name: string, req: RecordedRequest): [number, unknown] {
    const contentType = String(req.headers['content-type'] ?? '');
    if (!/^application\/(x-ndjson|json)\b/.test(contentType)) {
      return [406, { error: `Content-Type header [${contentType}] is not supported`, status: 406 }];
    }
    if (req.query.refresh !== undefined && this.service === 'aoss') {
      return error(400, 'illegal_argument_exception', 'refresh is not supported by OpenSearch Serverless');
    }
    if (!req.body.endsWith('\n')) {
      return error(400, 'illegal_argument_exception', 'The bulk request must be terminated by a newline [\\n]');
    }
    const lines = req.body.slice(0, -1).split('\n');
    const actions: Array<{ action: 'index' | 'delete'; id: string; source?: Record<string, unknown> }> = [];
    for (let i = 0; i < lines.length; i++) {
      let action: any;
      try {
        action = JSON.parse(lines[i]);
      } catch {
        return error(400, 'json_parse_exception', `line [${i + 1}]: not JSON`);
      }
      const keys = action && typeof action === 'object' ? Object.keys(action) : [];
      if (keys.length !== 1 || !['index', 'delete'].includes(keys[0])) {
        return error(400, 'illegal_argument_exception', `Malformed action/metadata line [${i + 1}], expected index or delete`);
      }
      const kind = keys[0] as 'index' | 'delete';
      const meta = action[kind];
      if (typeof meta?._id !== 'string' || meta._id.length === 0 || (meta._index !== undefined && meta._index !== name)) {
        return error(400, 'action_request_validation_exception', `line [${i + 1}]: _id is missing`);
      }
      if (kind === 'index') {
        i++;
        let source: unknown;
        try {
          source = lines[i] === undefined ? undefined : JSON.parse(lines[i]);
        } catch {
          return error(400, 'json_parse_exception', `line [${i + 1}]: source is not JSON`);
        }
        if (!source || typeof source !== 'object' || Array.isArray(source)) {
          return error(400, 'illegal_argument_exception', `line [${i + 1}]: index action without a source object`);
        }
        actions.push({ action: kind, id: meta._id, source: source as Record<string, unknown> });
      } else {
        actions.push({ action: kind, id: meta._id });
      }
    }
    if (actions.length === 0) {
      return error(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');
    }
    // A bulk write to a missing index creates it with dynamic mappings, as OpenSearch does.
    let index = this.indices.get(name);
    if (!index) {
      index = { mappings: undefined, createBody: undefined, docs: new Map() };
      this.indices.set(name, index);
    }
    const items = actions.map(a => {
      const fault = this.itemFaults.find(f => f.id === a.id && f.times > 0);
      if (fault) {
        fault.times--;
        return { [a.action]: { _index: name, _id: a.id, status: fault.status, error: { type: fault.type, reason: `injected ${fault.type}` } } };
      }
      if (a.action === 'delete') {
        const existed = index!.docs.delete(a.id);
        return { delete: { _index: name, _id: a.id, result: existed ? 'deleted' : 'not_found', status: existed ? 200 : 404 } };
      }
      const existed = index!.docs.has(a.id);
      index!.docs.set(a.id, a.source!);
      return { index: { _index: name, _id: a.id, result: existed ? 'updated' : 'created', status: existed ? 200 : 201 } };
    });
    return [200, { took: 1, errors: items.some(item => Object.values(item)[0].status >= 300), items }];
  }

  private search(name: string, req: RecordedRequest): [number, unknown] {
    let body: any;
    try {
      body = JSON.parse(req.body);
    } catch {
      return error(400, 'parse_exception', 'request body is not valid JSON');
    }
    this.searches.push(body);
    const index = this.indices.get(name);
    if (!index) {
      return error(404, 'index_not_found_exception', `no such index [${name}]`);
    }
    let hits = this.searchHits;
    if (!hits) {
      // Naive stand-in for bool_prefix: every word of the query prefixes some word of a searched field.
      const must = body.query?.bool?.must?.[0]?.multi_match;
      const words = String(must?.query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      const fields: string[] = (must?.fields ?? []).filter((f: string) => !f.includes('._'));
      const filters: Array<[string, unknown]> = (body.query?.bool?.filter ?? []).map((f: any) => Object.entries(f.term)[0]);
      hits = [...index.docs]
        .filter(([, doc]) => filters.every(([field, value]) => doc[field] === value))
        .filter(([, doc]) => {
          const text = fields.map(f => String(doc[f] ?? '')).join(' ').toLowerCase().split(/\s+/);
          return words.every(w => text.some(t => t.startsWith(w)));
        })
        .map(([id, doc]) => ({ _id: id, _score: 1, _source: doc }));
    }
    const limited = hits.slice(0, body.size ?? 10);
    return [200, { took: 1, timed_out: false, hits: { total: { value: hits.length, relation: 'eq' }, max_score: null, hits: limited } }];
  }

  private security(req: RecordedRequest, kind: string, role: string): [number, unknown] {
    // OpenSearch Serverless has no security plugin; access comes from data access policies.
    if (this.service === 'aoss') {
      return error(404, 'fake_route_not_found', `no route for ${req.method} ${req.path}`);
    }
    if (req.method !== 'PUT' || (kind !== 'roles' && kind !== 'rolesmapping')) {
      return error(405, 'method_not_allowed', `${req.method} ${req.path}`);
    }
    let body: any;
    try {
      body = JSON.parse(req.body);
    } catch {
      return [400, { status: 'BAD_REQUEST', reason: 'Unable to parse content' }];
    }
    const problem = kind === 'roles' ? roleProblem(body) : mappingProblem(body);
    if (problem) {
      return [400, { status: 'BAD_REQUEST', reason: problem }];
    }
    // A mapping names an existing role; the plugin refuses to map one that is not there.
    if (kind === 'rolesmapping' && !this.roles.has(role) && !BUILT_IN_ROLES.includes(role)) {
      return [404, { status: 'NOT_FOUND', message: `role '${role}' is not available for role-mapping.` }];
    }
    const store = kind === 'roles' ? this.roles : this.roleMappings;
    const existed = store.has(role);
    store.set(role, body);
    return [existed ? 200 : 201, { status: existed ? 'OK' : 'CREATED', message: `'${role}' ${existed ? 'updated' : 'created'}.` }];
  }
}

/** Roles every domain with fine-grained access control has. */
const BUILT_IN_ROLES = ['all_access', 'security_manager', 'readall'];

const stringArray = (v: unknown) => Array.isArray(v) && v.every(item => typeof item === 'string' && item.length > 0);

/** What the security plugin would refuse in a role body, as its `reason`. */
function roleProblem(body: any): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return 'Invalid configuration: a role is an object';
  }
  const unknown = Object.keys(body).filter(k => !['description', 'cluster_permissions', 'index_permissions', 'tenant_permissions'].includes(k));
  if (unknown.length > 0) {
    return `Invalid configuration: unknown keys ${unknown.join(', ')}`;
  }
  if (body.cluster_permissions !== undefined && !stringArray(body.cluster_permissions)) {
    return 'Invalid configuration: cluster_permissions must be an array of strings';
  }
  for (const entry of body.index_permissions ?? []) {
    const extra = Object.keys(entry ?? {}).filter(k => !['index_patterns', 'allowed_actions', 'dls', 'fls', 'masked_fields'].includes(k));
    if (extra.length > 0 || !stringArray(entry.index_patterns) || !stringArray(entry.allowed_actions)) {
      return 'Invalid configuration: index_permissions entries need index_patterns and allowed_actions arrays';
    }
  }
  return undefined;
}

/** What the security plugin would refuse in a role mapping body. */
function mappingProblem(body: any): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return 'Invalid configuration: a role mapping is an object';
  }
  const unknown = Object.keys(body).filter(k => !['description', 'backend_roles', 'hosts', 'users'].includes(k));
  if (unknown.length > 0) {
    return `Invalid configuration: unknown keys ${unknown.join(', ')}`;
  }
  for (const key of ['backend_roles', 'hosts', 'users']) {
    if (body[key] !== undefined && !stringArray(body[key])) {
      return `Invalid configuration: ${key} must be an array of strings`;
    }
  }
  return undefined;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function error(status: number, type: string, reason: string): [number, unknown] {
  return [status, { error: { root_cause: [{ type, reason }], type, reason }, status }];
}

/** One stand-in per signing service, shared by a test file. */
export interface FakeOpenSearchPair {
  aoss: FakeOpenSearch;
  es: FakeOpenSearch;
}

/** Starts an `aoss` and an `es` stand-in before the file's tests, resets both before each, closes them after. */
export function useFakeOpenSearchPair(): FakeOpenSearchPair {
  const pair = {} as FakeOpenSearchPair;
  beforeAll(async () => {
    [pair.aoss, pair.es] = await Promise.all([FakeOpenSearch.start({ service: 'aoss' }), FakeOpenSearch.start({ service: 'es' })]);
  });
  afterAll(async () => {
    await Promise.all([pair.aoss?.close(), pair.es?.close()]);
  });
  beforeEach(() => {
    pair.aoss.reset();
    pair.es.reset();
  });
  return pair;
}
