import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App } from 'aws-cdk-lib';
import { BotStack } from '../examples/bot/app';

// The bot example as deployed: ShardedBot with 4 shards, the command API, the worker and the bus in one stack.
const app = new App();
const stack = new BotStack(app, 'BotExampleInteg', { env: { region: 'us-east-1' } });
new IntegTest(app, 'BotExample', { testCases: [stack] });
