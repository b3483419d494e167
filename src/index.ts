export * from './realtime-service/realtime-fargate-service';
export * from './realtime-service/scaling-options';
export * from './realtime-service/origin-protection';
export * from './pubsub/redis-pubsub-bus';
export * from './pubsub/bus-engine';
export * from './pubsub/bus-mode';
export * from './pubsub/realtime-bus';
