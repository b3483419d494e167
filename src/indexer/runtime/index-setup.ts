import type { IndexerConfig } from './config';
import { indexMapping } from './documents';
import type { Logger } from './log';
import { describeFailure, errorType, OpenSearchClient } from './opensearch-client';

/**
 * Creates the index with its mapping before anything is written: a bulk write to a missing index would
 * create it with dynamic mappings, and search_as_you_type can never be added to an existing text field.
 * No settings are sent: OpenSearch Serverless rejects shard and replica settings.
 */
export async function ensureIndex(client: OpenSearchClient, config: IndexerConfig, log: Logger): Promise<void> {
  const res = await client.request({ method: 'PUT', path: `/${config.index}`, json: indexMapping(config.fields) });
  if (res.status >= 200 && res.status < 300) {
    log({ level: 'info', event: 'index_created', index: config.index, fields: config.fields.length });
  } else if (res.status === 400 && errorType(res.body) === 'resource_already_exists_exception') {
    // Another container (or an earlier deployment) got there first; its mapping is left as it is.
    log({ level: 'info', event: 'index_exists', index: config.index });
  } else {
    throw new Error(`creating index ${config.index} failed: ${describeFailure(res)}`);
  }
  if (config.service === 'es' && config.readerRoleArn) {
    await ensureReaderRole(client, config.index, config.readerRoleArn, log);
  }
}

/**
 * With fine-grained access control the indexer's role is the master user, and IAM alone does not let the
 * search function read: it needs a security-plugin role mapped to its IAM role. Both PUTs are idempotent,
 * so every new container repeats them and a half-finished setup heals itself.
 */
async function ensureReaderRole(client: OpenSearchClient, index: string, roleArn: string, log: Logger): Promise<void> {
  const role = `${index}-reader`;
  const steps = [
    {
      path: `/_plugins/_security/api/roles/${role}`,
      json: { index_permissions: [{ index_patterns: [index], allowed_actions: ['read'] }] },
    },
    { path: `/_plugins/_security/api/rolesmapping/${role}`, json: { backend_roles: [roleArn] } },
  ];
  for (const step of steps) {
    const res = await client.request({ method: 'PUT', path: step.path, json: step.json });
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`PUT ${step.path} failed: ${describeFailure(res)}`);
    }
  }
  log({ level: 'info', event: 'reader_role_mapped', role, backendRole: roleArn });
}
