import { Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IConstruct } from 'constructs';
import { acknowledgeControl } from './nag';

/**
 * Why a permission that lets API Gateway invoke a function meets Control Tower's CT.LAMBDA.PR.2 in fact
 * but not in form: the rule accepts only a literal or a Ref/GetAtt `SourceArn`, or a `SourceAccount` that
 * is a literal string (a `Ref` to `AWS::AccountId` fails its string check), and the ARN of an API's route or
 * authorizer is an `Fn::Join`.
 */
export const API_INVOKE_PERMISSION_REASON = 'API Gateway may invoke this function only for this API\'s route or authorizer, which SourceArn names, account included; '
  + 'the control accepts only a literal or Ref/GetAtt SourceArn and the Fn::Join that builds this ARN is neither, and a SourceAccount would only repeat the account the ARN already names.';

/**
 * Acknowledges CT.LAMBDA.PR.2 on each `AWS::Lambda::Permission` directly under `scope` that lets API
 * Gateway invoke `fn` for one source ARN (what aws-cdk-lib's Lambda integrations and authorizers create).
 */
export function acknowledgeApiInvokePermissions(scope: IConstruct, fn: lambda.IFunction): void {
  const stack = Stack.of(scope);
  const functionArn = JSON.stringify(stack.resolve(fn.functionArn));
  for (const permission of scope.node.children.filter((c): c is lambda.CfnPermission => c instanceof lambda.CfnPermission)) {
    if (stack.resolve(permission.principal) === 'apigateway.amazonaws.com' && permission.sourceArn !== undefined
      && JSON.stringify(stack.resolve(permission.functionName)) === functionArn) {
      acknowledgeControl(permission, 'lambda_function_public_access_prohibited_check', API_INVOKE_PERMISSION_REASON);
    }
  }
}
