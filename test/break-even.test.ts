import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { parseTraffic, userProfile, withMessageInterval } from '../scripts/break-even';
import {
  apiGatewayWebSocketMonthly, appSyncEventsMonthly, coresFor, crossovers, MeasuredCapacity, measuredCapacity, stackMonthly, tasksFor, trafficFor,
  UserProfile,
} from '../scripts/lib/break-even';
import { fargateServices } from '../scripts/lib/idle-cost';

/** One ARM service, 0.5 vCPU / 1 GB, 2 to 10 tasks, CPU target 60 %, behind an internal ALB; no NAT. */
function serviceTemplate(): any {
  const app = new App();
  const stack = new Stack(app, 'Load', { env: { account: '123456789012', region: 'us-east-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task', { cpu: 512, memoryLimitMiB: 1024, runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64 } });
  taskDefinition.addContainer('App', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest') });
  const service = new ecs.FargateService(stack, 'Service', { cluster: new ecs.Cluster(stack, 'Cluster', { vpc }), taskDefinition });
  service.autoScaleTaskCount({ minCapacity: 2, maxCapacity: 10 }).scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
  new elbv2.ApplicationLoadBalancer(stack, 'Lb', { vpc, internetFacing: false });
  return app.synth().getStackByName('Load').template;
}

const CHAT_LIKE: MeasuredCapacity = {
  example: 'chat', users: 1000, msgsPerSecond: 1000, deliveriesPerSecond: 100_000, cores: 1, scaling: 'deliveries', fanout: 100, measuredAt: 'test',
};

describe('serverless prices', () => {
  // Hand-computed from the documented rates: 730 h = 2,628,000 s = 43,800 min.
  // Messages: (10 in + 10 x 50 out) x 2,628,000 = 1,340,280,000.
  const traffic = { users: 1000, msgsPerSecond: 10, fanout: 50, bytes: 100 };

  test('API Gateway WebSocket: messages in and out, tiered at 1 billion, plus connection minutes', () => {
    const price = apiGatewayWebSocketMonthly(traffic);
    expect(price.messages).toBe(1_340_280_000);
    expect(price.connectionMinutes).toBe(43_800_000);
    // 1,000 M x $1.00 + 340.28 M x $0.80 + 43.8 M x $0.25 = 1,000 + 272.224 + 10.95
    expect(price.monthly).toBeCloseTo(1283.174, 6);
  });

  test('AppSync Events: every publish and delivery an operation, plus connection minutes', () => {
    const price = appSyncEventsMonthly(traffic);
    // 1,340.28 M x $1.00 + 43.8 M x $0.08 = 1,340.28 + 3.504
    expect(price.monthly).toBeCloseTo(1343.784, 6);
  });

  test('large messages count once per size increment: 32 KB for API Gateway, 5 KB for AppSync Events', () => {
    const big = { users: 0, msgsPerSecond: 1, fanout: 0, bytes: 40 * 1024 };
    expect(apiGatewayWebSocketMonthly(big).messages).toBe(2 * 2_628_000);
    expect(appSyncEventsMonthly(big).messages).toBe(8 * 2_628_000);
  });
});

describe('stack under load', () => {
  test('tasks follow the CPU target and a connections target, never below the minimum', () => {
    const service = { ...fargateServices(serviceTemplate())[0], customTargets: [{ metric: 'ActiveConnections', value: 5000 }] };
    expect(service.minTasks).toBe(2);
    expect(service.cpuTargetPercent).toBe(60);
    expect(tasksFor(service, 0.1, 10)).toBe(2);
    expect(tasksFor(service, 1.5, 12_000)).toBe(5); // 1.5 / (0.5 x 0.6)
    expect(tasksFor(service, 0.1, 26_000)).toBe(6); // 26,000 / 5,000
  });

  test('cores scale with deliveries for chat and with watchers or placements for canvas', () => {
    expect(coresFor(CHAT_LIKE, { users: 500, msgsPerSecond: 100, fanout: 100, bytes: 100 })).toBeCloseTo(0.1, 9);
    // Measured: 1,000 watchers x 10 frames/s (100 ms tick) and 5,000 placements/s on 0.7 cores.
    const canvasLike: MeasuredCapacity = {
      ...CHAT_LIKE, example: 'canvas', scaling: 'frames', ticksPerSecond: 10, users: 1000, msgsPerSecond: 5000, deliveriesPerSecond: 10_000, cores: 0.7,
    };
    expect(coresFor(canvasLike, { users: 3000, msgsPerSecond: 20, fanout: 3000, bytes: 100 })).toBeCloseTo(2.1, 9); // 30,000 frames/s
    expect(coresFor(canvasLike, { users: 3000, msgsPerSecond: 2, fanout: 3000, bytes: 100 })).toBeCloseTo(0.42, 9); // 6,000 frames/s
    expect(coresFor(canvasLike, { users: 100, msgsPerSecond: 10_000, fanout: 100, bytes: 100 })).toBeCloseTo(1.4, 9); // placements
    expect(coresFor(canvasLike, { users: 5000, msgsPerSecond: 0, fanout: 5000, bytes: 100 })).toBe(0);
  });

  test('prices the stack at the tasks the load needs plus load balancer capacity units', () => {
    // 100 msg/s x 1,000 fan-out = 100,000 deliveries/s = 1 core = 4 tasks of 0.5 vCPU at 60 %.
    const price = stackMonthly(serviceTemplate(), CHAT_LIKE, { users: 6000, msgsPerSecond: 100, fanout: 1000, bytes: 1 });
    expect(price.tasks).toBe(4);
    expect(price.overMax).toBe(false);
    expect(price.lcus).toBe(2); // 6,000 connections / 3,000 (above 0.36 GB processed an hour)
    // 4 x (0.5 x $0.03238 + 1 x $0.00356) x 730 = 57.67 (Fargate ARM), $0.0225 x 730 = 16.43 (ALB), 2 x $0.008 x 730 = 11.68 (LCUs)
    expect(price.monthly).toBeCloseTo(57.67 + 16.43 + 11.68, 1);
    const processed = stackMonthly(serviceTemplate(), CHAT_LIKE, { users: 10, msgsPerSecond: 100, fanout: 1000, bytes: 10 });
    expect(processed.lcus).toBeCloseTo(3.6036, 9); // (100 + 100,000) msg/s x 10 B x 3,600 s = 3.6036 GB an hour
  });

  test('crossovers are where the serverless option first costs at least as much as the stack', () => {
    const template = serviceTemplate();
    const profile: UserProfile = { msgsPerUserPerSecond: 1 / 60, fanout: users => Math.min(users, 100), bytes: 300, describe: 'test' };
    const found = crossovers(template, CHAT_LIKE, profile);
    expect(found.map(c => c.service)).toEqual(['API Gateway WebSocket', 'AppSync Events']);
    const prices = [apiGatewayWebSocketMonthly, appSyncEventsMonthly];
    found.forEach((c, i) => {
      const at = (users: number) => {
        const traffic = trafficFor(profile, users);
        return [prices[i](traffic).monthly, stackMonthly(template, CHAT_LIKE, traffic).monthly];
      };
      const [serverless, stack] = at(c.users!);
      expect(serverless).toBeGreaterThanOrEqual(stack);
      const [before, stackBefore] = at(c.users! - 1);
      expect(before).toBeLessThan(stackBefore);
    });
  });
});

describe('inputs', () => {
  test('capacity comes from the benchmark step the results name', () => {
    const results = {
      chat: {
        date: 'd1',
        options: { clients: 1000, membersPerRoom: [100, 50] },
        maxSustained: { acceptedPerSecond: 2000, deliveriesPerSecond: 150_000, cpuPercent: { 'chat server 1': 60, 'chat server 2': 40, 'redis-server': 5 } },
      },
      canvas: { date: 'd2', options: { watchers: 800 }, best: { acceptedPerSecond: 4000, cpuPercent: { 'canvas server': 70, 'dynalite': 40 } } },
    };
    expect(measuredCapacity(results, 'chat')).toMatchObject({ users: 1000, msgsPerSecond: 2000, deliveriesPerSecond: 150_000, cores: 1, fanout: 75, scaling: 'deliveries' });
    expect(measuredCapacity(results, 'canvas')).toMatchObject({ users: 800, msgsPerSecond: 4000, deliveriesPerSecond: 8000, cores: 0.7, scaling: 'frames' });
    expect(measuredCapacity(results, 'canvas', 50).deliveriesPerSecond).toBe(16_000);
    expect(() => measuredCapacity(results, 'echo')).toThrow(/No benchmark capacity for example "echo"/);
  });

  test('traffic arguments are checked, with the example profile filling fan-out and size', () => {
    const profile = userProfile('chat', { Resources: {} });
    expect(parseTraffic('users=500,msgs=8', profile)).toEqual({ users: 500, msgsPerSecond: 8, fanout: 100, bytes: 300 });
    expect(parseTraffic('users=50,msgs=1,fanout=7,bytes=2000', profile)).toEqual({ users: 50, msgsPerSecond: 1, fanout: 7, bytes: 2000 });
    expect(() => parseTraffic('users=500', profile)).toThrow(/needs users=N and msgs=M/);
    expect(() => parseTraffic('users=-1,msgs=2', profile)).toThrow(/non-negative numbers; got "users=-1"/);
    expect(() => parseTraffic('people=5,msgs=2', profile)).toThrow(/got "people=5"/);
  });

  test('the canvas profile reads the placement cooldown from the task definition', () => {
    const template = { Resources: { Task: { Type: 'AWS::ECS::TaskDefinition', Properties: { ContainerDefinitions: [{ Environment: [{ Name: 'CANVAS_COOLDOWN_SECONDS', Value: '60' }] }] } } } };
    const profile = userProfile('canvas', template);
    expect(profile.msgsPerUserPerSecond).toBeCloseTo(1 / 60, 12);
    expect(profile.fanout(1234)).toBe(1234);
  });
});

describe('message interval', () => {
  test('--every sets each user\'s message rate, 0 for users who never send, and keeps the fan-out', () => {
    const chat = userProfile('chat', { Resources: {} });
    expect(withMessageInterval(chat, 600).msgsPerUserPerSecond).toBeCloseTo(1 / 600, 12);
    expect(withMessageInterval(chat, 0).msgsPerUserPerSecond).toBe(0);
    expect(withMessageInterval(chat, 600).fanout(5000)).toBe(100);
    expect(withMessageInterval(chat, 600).describe).toBe('rooms of up to 100 members (the benchmark\'s room size); each user sends once every 600 s');
    expect(() => withMessageInterval(chat, Number('soon'))).toThrow(/--every takes the seconds between a user's messages/);
  });
});
