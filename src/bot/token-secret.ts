import { Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The gateway token as an ECS secret (the whole secret string, or one JSON field of it) whose read grant
 * creates no reference back to the secret's stack.
 *
 * `ISecret.grantRead` lets the grantee decrypt through the secret's KMS key by adding it to the key policy;
 * with the secret and its key in a data stack and the shards in an app stack (same account and region),
 * that is a reference from the data stack to the app stack, which closes a dependency cycle. In that case
 * the decrypt permission goes into the grantee's own policy (used through Secrets Manager only,
 * `kms:ViaService`), which the key honours when its policy lets IAM policies of the account grant its use,
 * as the default key policy does (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
 */
export class TokenSecret extends ecs.Secret {
  public readonly arn: string;
  public readonly hasField: boolean;

  constructor(private readonly secret: secretsmanager.ISecret, field: string | undefined) {
    super();
    this.arn = field ? `${secret.secretArn}:${field}::` : secret.secretArn;
    this.hasField = field !== undefined;
  }

  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const key = this.secret.encryptionKey;
    const principal = grantee.grantPrincipal;
    if (!key || !Construct.isConstruct(principal)) {
      return this.secret.grantRead(grantee);
    }
    const granteeStack = Stack.of(principal);
    const keyStack = Stack.of(key);
    // Only another stack of the same account and region; across accounts the key policy must name the grantee.
    if (granteeStack === keyStack || granteeStack.account !== keyStack.account || granteeStack.region !== keyStack.region) {
      return this.secret.grantRead(grantee);
    }
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      // A secret imported by name has a partial ARN; Secrets Manager appends six random characters.
      resourceArns: [this.secret.secretFullArn ?? `${this.secret.secretArn}-??????`],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt'],
      resourceArns: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${keyStack.region}.amazonaws.com` } },
    });
    return grant;
  }
}
