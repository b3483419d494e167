import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { handleSecurityBootstrap } from './runtime/security-bootstrap';

/**
 * StreamIndexer's security bootstrap for a managed domain, the function behind its
 * `Custom::OpenSearchSecurityRoles` resource. Its role is the domain's fine-grained access control master
 * user; it runs only when CloudFormation creates, updates or deletes that resource. The logic lives in
 * runtime/security-bootstrap.ts.
 */
export const handler = async (event: CloudFormationCustomResourceEvent, context: Context): Promise<void> => {
  await handleSecurityBootstrap(event, {
    remainingTimeMs: () => context.getRemainingTimeInMillis(),
    logStreamName: context.logStreamName,
  });
};
