import * as http from 'http';
import { AddressInfo } from 'net';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { FakeOpenSearch, TEST_CREDENTIALS, TEST_REGION } from './fake-opensearch';
import type { LogEntry } from '../../src/indexer/runtime/log';
import { handleSecurityBootstrap, RESPONSE_RESERVE_MS, SecurityBootstrapDeps } from '../../src/indexer/runtime/security-bootstrap';
import { handler } from '../../src/indexer/security-bootstrap.lambda';

// The domain target's security bootstrap, run for real: against the signature-checking stand-in for an
// OpenSearch domain (with the security plugin's role APIs) and a local HTTP server standing in for
// CloudFormation's presigned response URL. Credentials come from the environment, as on Lambda.
process.env.AWS_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
process.env.AWS_SESSION_TOKEN = TEST_CREDENTIALS.sessionToken;
process.env.AWS_REGION = TEST_REGION;

const INDEXER_ROLE = 'arn:aws:iam::123456789012:role/Test-SearchIndexerRole-ABC';
const SEARCH_ROLE = 'arn:aws:iam::123456789012:role/Test-SearchSearchRole-DEF';
const LOGICAL_ID = 'SearchDomainSecurityRoles0A1B2C3D';

/** What arrived at the response URL. */
interface Delivered {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: any;
}

/** A local stand-in for the S3 presigned URL CloudFormation waits on; answers 200 unless told to fail. */
class ResponseServer {
  static async start(): Promise<ResponseServer> {
    const server = new ResponseServer();
    await new Promise<void>(resolve => server.server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  readonly delivered: Delivered[] = [];
  /** Statuses for the next requests, in order; 200 once empty. */
  readonly failures: number[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', chunk => chunks.push(chunk));
    req.on('end', () => {
      const status = this.failures.shift() ?? 200;
      const text = Buffer.concat(chunks).toString('utf8');
      this.delivered.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined });
      res.writeHead(status).end();
    });
  });

  /** A presigned-looking URL: the query must reach the server untouched. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/cfn-response/Test?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab%2Fcd`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }
}

let domain: FakeOpenSearch;
let cloudFormation: ResponseServer;

beforeAll(async () => {
  [domain, cloudFormation] = await Promise.all([FakeOpenSearch.start({ service: 'es' }), ResponseServer.start()]);
});
afterAll(async () => {
  await Promise.all([domain.close(), cloudFormation.close()]);
});
beforeEach(() => {
  domain.reset();
  cloudFormation.delivered.length = 0;
  cloudFormation.failures.length = 0;
});

function properties(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { Endpoint: domain.endpoint, Index: 'messages', WriterRoleArn: INDEXER_ROLE, ReaderRoleArn: SEARCH_ROLE, ...overrides };
}

function event(requestType: 'Create' | 'Update' | 'Delete', props = properties(), old?: Record<string, unknown>): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:Test-SearchDomainSecurityBootstrap',
    ResponseURL: cloudFormation.url,
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Test/0f1e2d3c',
    RequestId: `request-${requestType}`,
    LogicalResourceId: LOGICAL_ID,
    ResourceType: 'Custom::OpenSearchSecurityRoles',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:Test-SearchDomainSecurityBootstrap', ...props },
  };
  if (requestType === 'Create') {
    return { ...common, RequestType: 'Create' };
  }
  if (requestType === 'Update') {
    return { ...common, RequestType: 'Update', PhysicalResourceId: `${LOGICAL_ID}-security-roles`, OldResourceProperties: { ...common.ResourceProperties, ...old } };
  }
  return { ...common, RequestType: 'Delete', PhysicalResourceId: `${LOGICAL_ID}-security-roles` };
}

/** What the Lambda runtime passes; only these two members are read. */
const lambdaContext = { getRemainingTimeInMillis: () => 120_000, logStreamName: '2026/01/01/[$LATEST]0123abcd' } as Context;

function bootstrap(e: CloudFormationCustomResourceEvent, deps: SecurityBootstrapDeps = {}) {
  const logs: LogEntry[] = [];
  const done = handleSecurityBootstrap(e, { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 }, log: entry => logs.push(entry), ...deps });
  return { done, logs };
}

const requestLine = () => domain.requests.map(r => `${r.method} ${r.path} ${r.status}`);

const WRITER_ROLE = {
  description: 'Creates and writes index messages (StreamIndexer\'s indexer)',
  cluster_permissions: ['indices:data/write/bulk'],
  index_permissions: [{
    index_patterns: ['messages'],
    allowed_actions: ['indices:admin/create', 'indices:admin/mapping/put', 'indices:data/write/bulk*', 'indices:data/write/index', 'indices:data/write/delete'],
  }],
};
const READER_ROLE = {
  description: 'Reads index messages (StreamIndexer\'s search function)',
  index_permissions: [{ index_patterns: ['messages'], allowed_actions: ['read'] }],
};

describe('Create', () => {
  test('writes the writer and reader roles, maps them to the two IAM roles, and answers SUCCESS at the response URL', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await handler(event('Create'), lambdaContext);
    } finally {
      log.mockRestore();
    }

    // Roles first: the security plugin refuses to map a role that does not exist.
    expect(requestLine()).toEqual([
      'PUT /_plugins/_security/api/roles/messages-writer 201',
      'PUT /_plugins/_security/api/roles/messages-reader 201',
      'PUT /_plugins/_security/api/rolesmapping/messages-writer 201',
      'PUT /_plugins/_security/api/rolesmapping/messages-reader 201',
    ]);
    expect(domain.roles.get('messages-writer')).toEqual(WRITER_ROLE);
    expect(domain.roles.get('messages-reader')).toEqual(READER_ROLE);
    expect(domain.roleMappings.get('messages-writer')).toEqual({ backend_roles: [INDEXER_ROLE] });
    expect(domain.roleMappings.get('messages-reader')).toEqual({ backend_roles: [SEARCH_ROLE] });
    // Nothing beyond this index: no wildcard pattern, no security or cluster administration.
    expect(JSON.stringify([...domain.roles.values()])).not.toMatch(/"\*"|cluster:admin|_security|indices_all|all_access/);

    expect(cloudFormation.delivered).toHaveLength(1);
    const [answer] = cloudFormation.delivered;
    expect(answer.method).toBe('PUT');
    expect(answer.url).toBe(new URL(cloudFormation.url).pathname + new URL(cloudFormation.url).search);
    // The presigned URL was signed without a content type.
    expect(answer.headers['content-type'] ?? '').toBe('');
    expect(answer.body).toEqual({
      Status: 'SUCCESS',
      PhysicalResourceId: `${LOGICAL_ID}-security-roles`,
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Test/0f1e2d3c',
      RequestId: 'request-Create',
      LogicalResourceId: LOGICAL_ID,
      Data: { WriterRole: 'messages-writer', ReaderRole: 'messages-reader' },
    });
  });

  test('running it again (Lambda retries an event) changes nothing and still succeeds', async () => {
    await bootstrap(event('Create')).done;
    await bootstrap(event('Create')).done;
    expect(domain.requests.slice(4).map(r => r.status)).toEqual([200, 200, 200, 200]);
    expect(domain.roles.get('messages-writer')).toEqual(WRITER_ROLE);
    expect(cloudFormation.delivered.map(d => d.body.Status)).toEqual(['SUCCESS', 'SUCCESS']);
  });

  test('a 503 from a security plugin that is still starting is retried', async () => {
    domain.inject({ times: 2, status: 503 });
    const { done } = bootstrap(event('Create'));
    await done;
    expect(domain.requests.map(r => r.status)).toEqual([503, 503, 201, 201, 201, 201]);
    expect(cloudFormation.delivered[0].body.Status).toBe('SUCCESS');
  });
});

describe('extra readers (StreamIndexer.grantSearch)', () => {
  const DASHBOARD_ROLE = 'arn:aws:iam::123456789012:role/Dashboard-TaskRole-GHI';
  const REPORTS_ROLE = 'arn:aws:iam::210987654321:role/Reports';

  test('are mapped to the read-only role next to the search function, and to nothing else', async () => {
    await bootstrap(event('Create', properties({ ExtraReaderRoleArns: [DASHBOARD_ROLE, REPORTS_ROLE, SEARCH_ROLE] }))).done;
    expect(cloudFormation.delivered[0].body.Status).toBe('SUCCESS');
    expect(domain.roleMappings.get('messages-reader')).toEqual({ backend_roles: [SEARCH_ROLE, DASHBOARD_ROLE, REPORTS_ROLE] });
    expect(domain.roleMappings.get('messages-writer')).toEqual({ backend_roles: [INDEXER_ROLE] });
    expect(domain.roles.get('messages-reader')).toEqual(READER_ROLE);
  });

  test('a reader granted later is added by the update, and one revoked is removed (each PUT replaces the mapping)', async () => {
    await bootstrap(event('Create')).done;
    await bootstrap(event('Update', properties({ ExtraReaderRoleArns: [DASHBOARD_ROLE] }))).done;
    expect(domain.roleMappings.get('messages-reader')).toEqual({ backend_roles: [SEARCH_ROLE, DASHBOARD_ROLE] });
    await bootstrap(event('Update', properties(), { ExtraReaderRoleArns: [DASHBOARD_ROLE] })).done;
    expect(domain.roleMappings.get('messages-reader')).toEqual({ backend_roles: [SEARCH_ROLE] });
    expect(cloudFormation.delivered.map(d => d.body.Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  test.each([
    [DASHBOARD_ROLE, `property ExtraReaderRoleArns must be a list of IAM role ARNs, got "${DASHBOARD_ROLE}"`],
    [['arn:aws:iam::123456789012:user/alice'], 'property ExtraReaderRoleArns must list IAM role ARNs, got "arn:aws:iam::123456789012:user/alice"'],
  ])('a malformed list (%j) fails before any call', async (value, reason) => {
    await bootstrap(event('Create', properties({ ExtraReaderRoleArns: value }))).done;
    expect(domain.requests).toEqual([]);
    expect(cloudFormation.delivered[0].body).toMatchObject({ Status: 'FAILED', Reason: reason });
  });
});

describe('Update', () => {
  test('puts the new mapping, keeps the physical id, and answers SUCCESS', async () => {
    await bootstrap(event('Create')).done;
    const newSearchRole = 'arn:aws:iam::123456789012:role/Test-SearchSearchRole-NEW';
    await bootstrap(event('Update', properties({ ReaderRoleArn: newSearchRole }), { ReaderRoleArn: SEARCH_ROLE })).done;
    expect(domain.roleMappings.get('messages-reader')).toEqual({ backend_roles: [newSearchRole] });
    expect(cloudFormation.delivered[1].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${LOGICAL_ID}-security-roles`, RequestId: 'request-Update' });
  });
});

describe('Delete', () => {
  test('calls nothing and answers SUCCESS, even with properties it could not use', async () => {
    await bootstrap(event('Delete', properties({ Endpoint: 'not a url' }))).done;
    expect(domain.requests).toEqual([]);
    expect(cloudFormation.delivered[0].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `${LOGICAL_ID}-security-roles`, RequestId: 'request-Delete' });
  });
});

describe('failures answer FAILED with a reason instead of leaving the stack waiting', () => {
  test('the security API refusing a call', async () => {
    domain.inject({ match: r => r.path.includes('rolesmapping'), times: 1, status: 403, body: { status: 'FORBIDDEN', message: 'no permissions for [restapi:admin/rolesmapping]' } });
    const { done, logs } = bootstrap(event('Create'), { logStreamName: 'stream-1' });
    await expect(done).resolves.toBeUndefined();
    expect(cloudFormation.delivered[0].body).toMatchObject({
      Status: 'FAILED',
      Reason: 'PUT /_plugins/_security/api/rolesmapping/messages-writer failed: HTTP 403: no permissions for [restapi:admin/rolesmapping] (log stream stream-1)',
      PhysicalResourceId: `${LOGICAL_ID}-security-roles`,
    });
    expect(cloudFormation.delivered[0].body.Data).toBeUndefined();
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', event: 'security_roles_failed', requestType: 'Create' }));
  });

  test('a 400 from the security plugin is not retried and its reason reaches the stack events', async () => {
    domain.inject({ match: r => r.path.endsWith('/roles/messages-writer'), times: 1, status: 400, body: { status: 'BAD_REQUEST', reason: 'Invalid configuration' } });
    await bootstrap(event('Create')).done;
    expect(domain.requests).toHaveLength(1);
    expect(cloudFormation.delivered[0].body.Reason).toBe('PUT /_plugins/_security/api/roles/messages-writer failed: HTTP 400: Invalid configuration');
  });

  test.each([
    [{ WriterRoleArn: 'Test-SearchIndexerRole' }, 'property WriterRoleArn must be an IAM role ARN, got "Test-SearchIndexerRole"'],
    [{ Endpoint: 'http://search.example.com' }, 'property Endpoint must use https, got "http://search.example.com"'],
    [{ Index: 'Messages' }, 'property Index must be lowercase letters'],
    [{ ReaderRoleArn: '' }, 'property ReaderRoleArn is missing'],
  ])('properties %j', async (change, reason) => {
    await bootstrap(event('Create', properties(change))).done;
    expect(domain.requests).toEqual([]);
    expect(cloudFormation.delivered[0].body.Status).toBe('FAILED');
    expect(cloudFormation.delivered[0].body.Reason).toContain(reason);
  });

  test('a domain that never answers: FAILED before Lambda would time out', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const started = Date.now();
      // 300 ms of work left once the time kept for answering is set aside.
      await bootstrap(event('Create', properties({ Endpoint: endpoint })), { remainingTimeMs: () => RESPONSE_RESERVE_MS + 300 }).done;
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(cloudFormation.delivered[0].body).toMatchObject({ Status: 'FAILED', Reason: 'the security API calls did not finish within 0.3 s' });
    } finally {
      silent.closeAllConnections();
      await new Promise<void>(resolve => silent.close(() => resolve()));
    }
  });
});

describe('delivering the answer', () => {
  test('a failed delivery is retried', async () => {
    cloudFormation.failures.push(500);
    await bootstrap(event('Delete')).done;
    expect(cloudFormation.delivered.map(d => d.body.Status)).toEqual(['SUCCESS', 'SUCCESS']);
  });

  test('when no attempt gets through the handler fails, so Lambda retries the (idempotent) event', async () => {
    cloudFormation.failures.push(403, 403, 403);
    const { done, logs } = bootstrap(event('Create'));
    await expect(done).rejects.toThrow('could not deliver the SUCCESS answer to CloudFormation after 3 attempts: HTTP 403');
    expect(cloudFormation.delivered).toHaveLength(3);
    // The presigned URL is a credential: never in the logs.
    expect(JSON.stringify(logs)).not.toContain('X-Amz-Signature');
  });
});
