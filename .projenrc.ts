import { awscdk, javascript } from 'projen';

// Versions that work together on the build machine; see README "Toolchain".
const CDK_VERSION = '2.257.0';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-realtime',
  description:
    'AWS CDK constructs for realtime container workloads: WebSocket services on Fargate, Valkey/Redis pub/sub, stream indexing, a CloudFront front door and sharded bots, secure by default.',
  author: 'cdk-realtime',
  authorAddress: 'cdk-realtime@users.noreply.github.com',
  repositoryUrl: 'https://github.com/cdk-realtime/cdk-realtime.git',
  keywords: ['aws-cdk', 'cdk', 'websocket', 'realtime', 'fargate', 'elasticache', 'valkey', 'redis', 'cloudfront', 'opensearch'],
  license: 'Apache-2.0',
  stability: 'experimental',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  sampleCode: false,

  cdkVersion: CDK_VERSION,
  constructsVersion: '10.8.1',
  jsiiVersion: '~6.0.0',

  // The build runs on our own CI script (.ci/run), not on GitHub workflows.
  github: false,
  release: false,
  depsUpgrade: false,
  pullRequestTemplate: false,

  publishToPypi: { distName: 'cdk-realtime', module: 'cdk_realtime' },
  publishToMaven: {
    javaPackage: 'io.github.cdkrealtime',
    mavenGroupId: 'io.github.cdkrealtime',
    mavenArtifactId: 'cdk-realtime',
  },
  publishToNuget: { dotNetNamespace: 'CdkRealtime', packageId: 'CdkRealtime' },
  publishToGo: { moduleName: 'github.com/cdk-realtime/cdk-realtime-go' },

  tsconfigDevFile: 'tsconfig.dev.json',
  tsconfigDev: {
    include: ['.projenrc.ts', 'examples/**/*.ts', 'integ/**/*.ts', 'scripts/**/*.ts', 'bench/**/*.ts'],
    exclude: ['**/cdk.out/**', '**/*.snapshot/**', 'examples/*/server/dist/**', 'lib', 'dist', 'bindings', 'coverage'],
    compilerOptions: { lib: ['es2022', 'dom'] },
  },
  eslintOptions: {
    dirs: ['src'],
    tsconfigPath: './tsconfig.dev.json',
    projectService: false,
    devdirs: ['test', 'integ', 'examples', 'scripts', 'bench'],
    ignorePatterns: ['*.js', '*.d.ts', 'node_modules/', '*.generated.ts', 'coverage', 'cdk.out/', '*.snapshot/'],
  },
  // src/**/*.lambda.ts handlers are bundled by esbuild into assets/ for the Node.js 24 runtime.
  lambdaOptions: { runtime: awscdk.LambdaRuntime.NODEJS_24_X, bundlingOptions: { sourcemap: false } },
  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/examples/*/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/cdk.out/', '\\.snapshot/'],
      testTimeout: 60_000,
      collectCoverage: false,
    },
  },

  devDeps: [
    'cdk-nag@3.0.2',
    // AWS Control Tower's proactive controls (cfn-guard rules plus the cfn-guard binary, offline): the
    // second policy engine every example stack passes next to cdk-nag (DESIGN.md §2)
    '@cdklabs/cdk-validator-cfnguard@0.0.62',
    '@aws-cdk/aws-service-spec',
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    '@aws-cdk/integ-runner@2.197.10',
    'aws-cdk@2.1148.1',
    'esbuild@~0.28.0',
    'tsx@~4.23.0',
    'ws@^8',
    '@types/ws@^8',
    'ioredis@^5.9.0',
    // example kit: message validation and JSON logs
    'zod@^4',
    'pino@^10',
    // canvas: DynamoDB client, and a DynamoDB-API store for local runs and tests
    '@aws-sdk/client-dynamodb@^3',
    '@aws-sdk/lib-dynamodb@^3',
    'dynalite@^4',
    // browser tests drive Debian's chromium
    'playwright-core',
    // StreamIndexer handlers: SigV4 for OpenSearch (aoss/es), stream-image decoding, credentials. The
    // @aws-sdk packages ship with the Lambda Node.js runtime; the @smithy ones are bundled by esbuild.
    '@smithy/signature-v4@^5',
    '@smithy/hash-node@^4',
    '@smithy/types@^4',
    '@aws-sdk/credential-provider-node@^3',
    '@aws-sdk/util-dynamodb@^3',
    '@types/aws-lambda@^8',
    // the fan-out benchmark's baseline
    'socket.io@^4',
    '@socket.io/redis-adapter@^8',
    // a lean HTTP client for the canvas benchmark's placement load (7.x still runs on Node 20)
    'undici@^7',
    // bot example: a real Discord gateway client (sharded WebSocket) and REST client for the shard program
    '@discordjs/ws@^2',
    '@discordjs/rest@^2',
    'discord-api-types@^0.38',
    // bot example: the shard program and its Lambdas publish to SNS and read SQS (the same code runs
    // against the local SNS/SQS stand-in)
    '@aws-sdk/client-sns@^3',
    '@aws-sdk/client-sqs@^3',
  ],

  // bench/results keeps latest.json (the figures README quotes); timestamped runs stay local.
  // Assets in integ snapshots (the 21 MB AWS CLI layer of BucketDeployment, our bundled handlers) are
  // build output; integ:verify compares templates, which carry the asset hashes, not the assets.
  gitignore: ['cdk.out/', '/bindings/', 'examples/*/server/dist/', 'bench/results/*.json', '!bench/results/latest.json', 'integ/*.snapshot/asset.*'],
});

// Example servers, clients and benchmarks pack binary frames; bit operations are their normal tools.
project.eslint?.addOverride({ files: ['examples/**/*.ts', 'bench/**/*.ts'], rules: { 'no-bitwise': 'off' } });

// Lambda handlers and their runtime modules import bundled devDependencies.
project.eslint?.addOverride({
  files: ['src/**/*.lambda.ts', 'src/**/runtime/**/*.ts'],
  rules: { 'import/no-extraneous-dependencies': ['error', { devDependencies: true }] },
});

// unrs-resolver 1.13.0 (via jest and eslint-import-resolver-typescript) has only its Linux bindings on the
// registry we build from; npm then writes a lock file that `npm ci` rejects. 1.12.2 is complete.
project.package.addField('overrides', { 'unrs-resolver': '1.12.2' });

// integ/ holds one IntegTest per construct; snapshots are made and checked offline (--dry-run never deploys).
// Two workers: each synth is a node process with a full aws-cdk-lib; more than the machine's cores crashed one (exit 133) under CI load.
const integArgs = 'integ-runner --language typescript --directory integ --parallel-regions us-east-1 --max-workers 2';
project.addTask('integ:update', {
  description: 'Regenerate the integ/ snapshots without deploying',
  exec: `${integArgs} --update-on-failed --dry-run`,
});
const integVerify = project.addTask('integ:verify', {
  description: 'Check that every integ/ snapshot matches what the code synthesizes (offline)',
  exec: `${integArgs} --dry-run`,
});
project.testTask.spawn(integVerify);

// jsii type-checks src/; this covers tests, examples, integ and scripts, which ts-jest only transpiles.
const typecheck = project.addTask('typecheck', {
  description: 'Type-check everything outside src/ (tests, examples, integ, scripts, bench)',
  exec: 'tsc --noEmit -p tsconfig.dev.json',
});
project.testTask.prependSpawn(typecheck);
// Tests and example synths use the bundled handlers (assets/ is built, not committed).
project.testTask.prependSpawn(project.bundler.bundleTask);

const examples = project.addTask('examples', {
  description: 'Synthesize every example app under examples/ with cdk-nag applied and print a table per stack',
});
examples.spawn(project.bundler.bundleTask);
examples.exec('tsx scripts/synth-examples.ts', { receiveArgs: true });

project.addTask('break-even', {
  description: 'Price an example at N users and M messages/s against API Gateway WebSocket APIs and AppSync Events: npm run break-even -- chat --traffic users=5000,msgs=80',
  exec: 'tsx scripts/break-even.ts',
  receiveArgs: true,
});

project.addTask('dev', {
  description: 'Run an example system locally on its embedded defaults: npm run dev canvas',
  exec: 'tsx scripts/dev.ts',
  receiveArgs: true,
});
project.addTask('bench', {
  description: 'Benchmarks: kit vs socket.io fan-out, and canvas placements (not tests; writes bench/results/)',
  exec: 'tsx bench/run.ts',
  receiveArgs: true,
});
project.addTask('canvas:rebuild', {
  description: 'Rebuild the canvas board in Redis from the DynamoDB placement history',
  exec: 'tsx examples/canvas/server/rebuild.ts',
  receiveArgs: true,
});

// One command builds everything that can be built here: the npm package always, and each other
// language's package when its toolchain and registry are reachable; otherwise its bindings are
// generated offline and checked (Python byte-compiled) so a jsii break still fails the build.
const bindings = project.addTask('package:bindings', {
  description: 'Package Python/Java/.NET/Go where their toolchains are available, else generate and check their code offline',
  exec: 'tsx scripts/package-bindings.ts',
  receiveArgs: true,
});
project.packageTask.reset();
project.packageTask.spawn(project.tasks.tryFind('package:js')!);
project.packageTask.spawn(bindings);

for (const p of ['/examples/', '/integ/', '/scripts/', '/bench/', '/.ci/', 'cdk.out/', '/tsconfig.dev.json']) {
  project.npmignore?.exclude(p);
}

project.synth();
