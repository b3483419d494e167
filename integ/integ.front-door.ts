import * as path from 'path';
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { CdnFrontDoor, FrontDoorSite, FrontDoorWebAcl, RealtimeFargateService } from '../src';

// A realtime service on an internal load balancer behind a front door with a static site, a cached
// path, an API path, a WebSocket path and a web ACL.
const app = new App();
const stack = new Stack(app, 'FrontDoorInteg', { env: { region: 'us-east-1' } });
const service = new RealtimeFargateService(stack, 'Service', {
  // nginx-unprivileged runs as its own non-root user on 8080; the integ test destroys what it deploys.
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx-unprivileged:stable-alpine'),
  user: '101',
  containerPort: 8080,
  deletionProtection: false,
  healthCheckPath: '/',
  readonlyRootFilesystem: false,
  publicLoadBalancer: false,
});
new CdnFrontDoor(stack, 'FrontDoor', {
  site: FrontDoorSite.fromDirectory(path.join(__dirname, 'front-door-site')),
  realtime: [{ service }],
  cached: [{ pathPattern: '/api/board', service, ttl: Duration.seconds(1) }],
  api: [{ pathPattern: '/api/*', service }],
  webAclArn: new FrontDoorWebAcl(stack, 'WebAcl').webAclArn,
});
new IntegTest(app, 'CdnFrontDoor', { testCases: [stack] });
