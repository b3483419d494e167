/**
 * Break-even between an example's stack and serverless WebSockets (API Gateway WebSocket APIs, AppSync
 * Events) at their published prices (scripts/lib/prices.ts), with the per-task capacity measured in
 * bench/results/latest.json.
 *
 *   npm run break-even --                                 crossover user counts for canvas and chat
 *   npm run break-even -- chat --traffic users=5000,msgs=80          one traffic level
 *   npm run break-even -- chat --traffic users=5000,msgs=80,fanout=50,bytes=500
 *   npm run break-even -- chat --every 600                each user sends a message every 600 s (0: never)
 *   npm run break-even -- canvas -c profile=lean          a synthesized variant
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import {
  apiGatewayWebSocketMonthly, appSyncEventsMonthly, crossovers, MeasuredCapacity, measuredCapacity, stackMonthly, Traffic, trafficFor, UserProfile,
} from './lib/break-even';
import { EXAMPLES_DIR } from './lib/examples';
import { estimateIdleCost, fargateServices } from './lib/idle-cost';
import { priceTable } from './lib/prices';
import { formatTable } from './lib/table';

const BENCH_RESULTS = path.join(__dirname, '..', 'bench', 'results', 'latest.json');
const EXAMPLES = ['canvas', 'chat'];

/** How a user behaves in each example when the crossover is searched. */
export function userProfile(example: string, template: any): UserProfile {
  if (example === 'canvas') {
    const cooldown = Number(environmentOf(template).CANVAS_COOLDOWN_SECONDS ?? 300);
    return {
      msgsPerUserPerSecond: 1 / cooldown,
      fanout: users => users,
      bytes: 100,
      describe: `every watcher receives every placement; each user places a pixel once per cooldown (${cooldown} s, from the task definition)`,
    };
  }
  if (example === 'chat') {
    return {
      msgsPerUserPerSecond: 1 / 60,
      fanout: users => Math.min(users, 100),
      bytes: 300,
      describe: 'rooms of up to 100 members (the benchmark\'s room size); each user sends one message a minute',
    };
  }
  throw new Error(`No user profile for example "${example}"; examples with one: ${EXAMPLES.join(', ')}`);
}

function environmentOf(template: any): Record<string, unknown> {
  const env: Record<string, unknown> = {};
  for (const resource of Object.values<any>(template.Resources ?? {})) {
    if (resource.Type === 'AWS::ECS::TaskDefinition') {
      for (const container of resource.Properties.ContainerDefinitions ?? []) {
        for (const e of container.Environment ?? []) {
          env[e.Name] = e.Value;
        }
      }
    }
  }
  return env;
}

/** Synthesizes an example (no checks) and returns the template of its stack that runs a Fargate service. */
export function exampleTemplate(example: string, context: Record<string, string> = {}): any {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createStacks } = require(path.join(EXAMPLES_DIR, example, 'app')) as { createStacks(app: App): Stack[] };
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `break-even-${example}-`));
  const app = new App({ outdir, context });
  const stacks = createStacks(app);
  const assembly = app.synth();
  const template = stacks.map(s => assembly.getStackByName(s.stackName).template).find(t => fargateServices(t).length > 0);
  // Only the template is needed: the assembly (with its bundled assets) goes.
  fs.rmSync(outdir, { recursive: true, force: true });
  if (!template) {
    throw new Error(`examples/${example} has no stack with a Fargate service`);
  }
  return template;
}

export function parseTraffic(text: string, profile: UserProfile): Traffic {
  const values: Record<string, number> = {};
  for (const pair of text.split(',')) {
    const [key, value] = pair.split('=');
    const number = Number(value);
    if (!['users', 'msgs', 'fanout', 'bytes'].includes(key) || !Number.isFinite(number) || number < 0) {
      throw new Error(`--traffic takes users=N,msgs=M[,fanout=F][,bytes=B] with non-negative numbers; got "${pair}"`);
    }
    values[key] = number;
  }
  if (values.users === undefined || values.msgs === undefined) {
    throw new Error('--traffic needs users=N and msgs=M (messages published per second), e.g. --traffic users=5000,msgs=80');
  }
  return {
    users: values.users,
    msgsPerSecond: values.msgs,
    fanout: values.fanout ?? profile.fanout(values.users),
    bytes: values.bytes ?? profile.bytes,
  };
}

function money(value: number): string {
  return `$${value.toFixed(2)}`;
}

function printTraffic(example: string, template: any, capacity: MeasuredCapacity, traffic: Traffic) {
  const stack = stackMonthly(template, capacity, traffic);
  console.log(`\nexamples/${example}: ${traffic.users} users, ${traffic.msgsPerSecond} msg/s, fan-out ${traffic.fanout}, ${traffic.bytes} B`);
  console.log(formatTable([
    { 'option': `this stack (${stack.tasks} task(s)${stack.overMax ? ', over MaxCapacity' : ''}, ${stack.lcus.toFixed(1)} LCU)`, '$/month': money(stack.monthly) },
    ...[apiGatewayWebSocketMonthly(traffic), appSyncEventsMonthly(traffic)].map(p => ({
      'option': `${p.service} (${(p.messages / 1e6).toFixed(1)}M messages, ${(p.connectionMinutes / 1e6).toFixed(1)}M connection-minutes)`,
      '$/month': money(p.monthly),
    })),
  ]));
}

function printCrossovers(example: string, template: any, capacity: MeasuredCapacity, profile: UserProfile) {
  console.log(`\nexamples/${example}: idle ${money(estimateIdleCost(template).total)}/month; ${profile.describe}`);
  console.log(`  capacity: ${capacity.cores.toFixed(2)} server cores carried ${capacity.users} users, ${Math.round(capacity.msgsPerSecond)} msg/s, `
    + `${Math.round(capacity.deliveriesPerSecond)} ${capacity.scaling === 'frames' ? 'frames' : 'deliveries'}/s (bench ${capacity.measuredAt})`);
  const idle = stackMonthly(template, capacity, trafficFor(profile, 0));
  const variants = idle.searchMonthly > 0 ? [false, true] : [false];
  console.log(formatTable(variants.flatMap(withoutSearch => crossovers(template, capacity, profile, { withoutSearch }).map(c => ({
    'stack priced': withoutSearch ? 'without search (either design needs it)' : 'whole stack',
    'serverless option': c.service,
    'costs more from': c.users === undefined ? 'not within 10M users' : `${c.users} users`,
    'stack there': c.stackMonthly === undefined ? '' : money(c.stackMonthly),
    'serverless there': c.serverlessMonthly === undefined ? '' : money(c.serverlessMonthly),
  })))));
}

/** The example's profile with each user publishing once every `seconds` (0: never). */
export function withMessageInterval(profile: UserProfile, seconds: number): UserProfile {
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new Error(`--every takes the seconds between a user's messages (0 for users who never send); got "${seconds}"`);
  }
  return {
    ...profile,
    fanout: profile.fanout,
    msgsPerUserPerSecond: seconds === 0 ? 0 : 1 / seconds,
    describe: `${profile.describe.split(';')[0]}; each user sends ${seconds === 0 ? 'nothing' : `once every ${seconds} s`}`,
  };
}

function main(args: string[]) {
  const names: string[] = [];
  const context: Record<string, string> = {};
  let trafficText: string | undefined;
  let every: number | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--traffic') {
      trafficText = args[++i] ?? '';
    } else if (args[i] === '--every') {
      every = Number(args[++i]);
    } else if (args[i] === '-c' || args[i] === '--context') {
      const [key, ...rest] = (args[++i] ?? '').split('=');
      context[key] = rest.join('=');
    } else {
      names.push(args[i]);
    }
  }
  const results = JSON.parse(fs.readFileSync(BENCH_RESULTS, 'utf8'));
  for (const { name, price } of priceTable().filter(r => /^(API_GATEWAY_WEBSOCKET|APPSYNC_EVENTS)\./.test(r.name))) {
    console.log(`${name}: $${price.usd} per ${price.unit} (${price.source}; ${price.date})${price.assumption ? ` - ${price.assumption}` : ''}`);
  }
  for (const example of names.length > 0 ? names : EXAMPLES) {
    const template = exampleTemplate(example, context);
    const profile = every === undefined ? userProfile(example, template) : withMessageInterval(userProfile(example, template), every);
    const capacity = measuredCapacity(results, example);
    if (trafficText !== undefined) {
      printTraffic(example, template, capacity, parseTraffic(trafficText, profile));
    } else {
      printCrossovers(example, template, capacity, profile);
    }
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
