import { CfnMapping, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * IDs of the AWS-managed prefix list `com.amazonaws.global.cloudfront.origin-facing` per region, as AWS
 * published them with "Limit access to your origins using the AWS-managed prefix list for Amazon
 * CloudFront" (the `AWSRegions2PrefixListID` mapping). They are fixed per region, so the library resolves
 * them at synth without an AWS call; a region missing here needs `cloudFrontPrefixListId`.
 */
export const CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS: Readonly<Record<string, string>> = {
  'af-south-1': 'pl-c0aa4fa9',
  'ap-east-1': 'pl-14b2577d',
  'ap-northeast-1': 'pl-58a04531',
  'ap-northeast-2': 'pl-22a6434b',
  'ap-northeast-3': 'pl-31a14458',
  'ap-south-1': 'pl-9aa247f3',
  'ap-southeast-1': 'pl-31a34658',
  'ap-southeast-2': 'pl-b8a742d1',
  'ca-central-1': 'pl-38a64351',
  'eu-central-1': 'pl-a3a144ca',
  'eu-north-1': 'pl-fab65393',
  'eu-south-1': 'pl-1bbc5972',
  'eu-west-1': 'pl-4fa04526',
  'eu-west-2': 'pl-93a247fa',
  'eu-west-3': 'pl-75b1541c',
  'me-south-1': 'pl-17b2577e',
  'sa-east-1': 'pl-5da64334',
  'us-east-1': 'pl-3b927c52',
  'us-east-2': 'pl-b6a144df',
  'us-west-1': 'pl-4ea04527',
  'us-west-2': 'pl-82a045eb',
};

/**
 * The prefix list ID for `scope`'s stack: a literal when the region is known, else a `Fn::FindInMap`
 * over the table above (one mapping per stack). Throws when the region is known but not in the table.
 */
export function cloudFrontPrefixListId(scope: Construct, requester: string): string {
  const stack = Stack.of(scope);
  if (!Token.isUnresolved(stack.region)) {
    const id = CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS[stack.region];
    if (!id) {
      throw new Error(`${requester}: the ID of CloudFront's origin-facing prefix list in ${stack.region} is not known to this library; `
        + `set cloudFrontPrefixListId to the ID that \`aws ec2 describe-managed-prefix-lists --filters Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing --region ${stack.region}\` prints`);
    }
    return id;
  }
  const mappingId = 'CloudFrontOriginFacingPrefixList';
  const mapping = (stack.node.tryFindChild(mappingId) as CfnMapping | undefined) ?? new CfnMapping(stack, mappingId, {
    mapping: Object.fromEntries(Object.entries(CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS).map(([region, id]) => [region, { id }])),
  });
  return mapping.findInMap(stack.region, 'id');
}
