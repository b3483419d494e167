/**
 * The security roles a StreamIndexer's managed domain gets, shared by the construct (which names them in
 * IAM policies and sets the custom resource's properties) and the bootstrap function (which writes them).
 * No imports: the construct library loads this module at synthesis, where the handlers' bundled
 * dependencies are absent.
 */

/** What the custom resource's properties carry, validated. */
export interface SecurityRolesConfig {
  /** `https://host` of the domain. */
  readonly endpoint: string;
  readonly region: string;
  readonly index: string;
  /** IAM role mapped to the writer role: the indexer function's. */
  readonly writerRoleArn: string;
  /** IAM role mapped to the read-only role: the search function's. */
  readonly readerRoleArn: string;
  /** Further IAM roles mapped to the read-only role: those given to `StreamIndexer.grantSearch`. */
  readonly extraReaderRoleArns?: string[];
}

/** The custom resource's property names, shared with the construct that sets them. */
export const PROPERTY = {
  ENDPOINT: 'Endpoint',
  INDEX: 'Index',
  WRITER_ROLE_ARN: 'WriterRoleArn',
  READER_ROLE_ARN: 'ReaderRoleArn',
  /** A list of role ARNs, absent when there are none. */
  EXTRA_READER_ROLE_ARNS: 'ExtraReaderRoleArns',
} as const;

/**
 * What the indexer does and nothing more: create its index with the mapping, and bulk index and delete
 * documents in it. `indices:data/write/bulk` is checked once per request at cluster level, the other
 * actions per index.
 */
export const WRITER_ACTIONS = [
  'indices:admin/create',
  'indices:admin/mapping/put',
  'indices:data/write/bulk*',
  'indices:data/write/index',
  'indices:data/write/delete',
] as const;

export function writerRoleName(index: string): string {
  return `${index}-writer`;
}

export function readerRoleName(index: string): string {
  return `${index}-reader`;
}

export interface SecurityRequest {
  /** Path below the endpoint, e.g. `/_plugins/_security/api/roles/messages-writer`. */
  readonly path: string;
  readonly json: unknown;
}

/** The PUTs, in order: a role must exist before it can be mapped. */
export function securityRequests(config: SecurityRolesConfig): SecurityRequest[] {
  const writer = writerRoleName(config.index);
  const reader = readerRoleName(config.index);
  return [
    {
      path: `/_plugins/_security/api/roles/${writer}`,
      json: {
        description: `Creates and writes index ${config.index} (StreamIndexer's indexer)`,
        cluster_permissions: ['indices:data/write/bulk'],
        index_permissions: [{ index_patterns: [config.index], allowed_actions: [...WRITER_ACTIONS] }],
      },
    },
    {
      path: `/_plugins/_security/api/roles/${reader}`,
      json: {
        description: `Reads index ${config.index} (StreamIndexer's search function)`,
        index_permissions: [{ index_patterns: [config.index], allowed_actions: ['read'] }],
      },
    },
    { path: `/_plugins/_security/api/rolesmapping/${writer}`, json: { backend_roles: [config.writerRoleArn] } },
    { path: `/_plugins/_security/api/rolesmapping/${reader}`, json: { backend_roles: [...new Set([config.readerRoleArn, ...config.extraReaderRoleArns ?? []])] } },
  ];
}

