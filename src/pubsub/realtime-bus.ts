import * as ecs from 'aws-cdk-lib/aws-ecs';

/**
 * A message bus that ECS services can be connected to.
 *
 * `RedisPubSubBus` (and `IRedisPubSubBus`) implements it; RealtimeFargateService calls `connect` when given a bus.
 */
export interface IRealtimeBus {
  /**
   * Lets an ECS service (Fargate or EC2) reach the bus: opens the bus's port to the service's security
   * groups (the rule lives in the service's stack, so a bus in another stack gains no reference to it), sets the
   * bus endpoint in its default container's environment, injects the credentials as ECS secrets and
   * grants their read.
   */
  connect(service: ecs.BaseService): void;
}
