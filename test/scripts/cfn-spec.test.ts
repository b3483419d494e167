import { validateTemplate } from '../../scripts/lib/cfn-spec';

const resource = (Type: string, Properties: object) => ({ Resources: { R: { Type, Properties, Metadata: { 'aws:cdk:path': 'Stack/R/Resource' } } } });

describe('CloudFormation specification check', () => {
  test('accepts a valid resource, intrinsic functions included', () => {
    expect(validateTemplate(resource('AWS::SQS::Queue', {
      QueueName: { 'Fn::Join': ['-', ['a', { Ref: 'AWS::Region' }]] },
      VisibilityTimeout: 30,
      Tags: [{ Key: 'k', Value: 'v' }],
      RedrivePolicy: { deadLetterTargetArn: 'arn', maxReceiveCount: 3 },
    }))).toEqual([]);
  });

  test('reports an unknown property with the construct path', () => {
    expect(validateTemplate(resource('AWS::SQS::Queue', { VisibilityTimout: 30 }))).toEqual([{
      logicalId: 'R',
      constructPath: 'Stack/R/Resource',
      message: expect.stringMatching(/^AWS::SQS::Queue\.VisibilityTimout: unknown property \(known: .*VisibilityTimeout/),
    }]);
  });

  test('reports a missing required property', () => {
    expect(validateTemplate(resource('AWS::ElastiCache::SubnetGroup', { SubnetIds: ['s'] })).map(p => p.message))
      .toEqual(['AWS::ElastiCache::SubnetGroup.Description: required property is missing']);
  });

  test('reports values of the wrong type, nested ones included', () => {
    const problems = validateTemplate(resource('AWS::ElastiCache::ReplicationGroup', {
      ReplicationGroupDescription: 'd',
      NumCacheClusters: 'two',
      SecurityGroupIds: 'sg-1',
      TransitEncryptionEnabled: 'yes',
      LogDeliveryConfigurations: [{ DestinationType: 'cloudwatch-logs', LogFormat: 'json', LogType: 'slow-log', DestinationDetails: { CloudWatchLogsDetails: { LogGroup: 7 } } }],
    })).map(p => p.message);
    expect(problems).toEqual([
      'AWS::ElastiCache::ReplicationGroup.NumCacheClusters: expected an integer, got "two"',
      'AWS::ElastiCache::ReplicationGroup.SecurityGroupIds: expected a list, got "sg-1"',
      'AWS::ElastiCache::ReplicationGroup.TransitEncryptionEnabled: expected a boolean, got "yes"',
      'AWS::ElastiCache::ReplicationGroup.LogDeliveryConfigurations[0].DestinationDetails.CloudWatchLogsDetails.LogGroup: expected a string, got 7',
    ]);
  });

  test('reports keys of a typed object that were written in the wrong case', () => {
    const problems = validateTemplate(resource('AWS::ElastiCache::User', {
      UserId: 'u',
      UserName: 'default',
      Engine: 'valkey',
      AuthenticationMode: { type: 'password', passwords: ['x'] },
    })).map(p => p.message);
    expect(problems).toEqual([
      'AWS::ElastiCache::User.AuthenticationMode.Type: required property is missing',
      expect.stringMatching(/^AWS::ElastiCache::User\.AuthenticationMode\.type: unknown property/),
      expect.stringMatching(/^AWS::ElastiCache::User\.AuthenticationMode\.passwords: unknown property/),
    ]);
  });

  test('reports an unknown resource type and skips custom resources', () => {
    expect(validateTemplate(resource('AWS::Nope::Thing', {})).map(p => p.message)).toEqual(['AWS::Nope::Thing: unknown resource type']);
    expect(validateTemplate(resource('Custom::Anything', { Whatever: 1 }))).toEqual([]);
  });
});
