import * as fs from 'fs';
import * as path from 'path';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { buildSync, BuildOptions } from 'esbuild';

/** The shard program's folder: `server.ts`, its Dockerfile, and `dist/` once bundled. */
export const SERVER_DIR = path.join(__dirname, 'server');

/**
 * @discordjs/ws resolves to its ES module build, which reads `import.meta.url`; a CommonJS bundle has no
 * `import.meta`, so the bundle defines it from the bundle's own file name.
 */
const COMMON: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'const __bundleUrl = require("url").pathToFileURL(__filename).href;' },
  // Optional native speed-ups of ws and of gateway compression; the bot runs without them.
  external: ['bufferutil', 'utf-8-validate', 'zlib-sync'],
  logLevel: 'warning',
};

/** Bundles `server/server.ts` into `server/dist/server.js`, the file the image runs, and returns its path. */
export function bundleShard(): string {
  const outfile = path.join(SERVER_DIR, 'dist', 'server.js');
  buildSync({ ...COMMON, entryPoints: [path.join(SERVER_DIR, 'server.ts')], outfile, sourcemap: 'linked' });
  return outfile;
}

/**
 * The shard image: the bundle and Node.js (`server/Dockerfile`), for ARM64 as ShardedBot runs by default.
 * Bundling first keeps the image to one file plus the runtime, and lets `cdk synth` stage it without Docker.
 */
export function shardImage(): ecs.ContainerImage {
  bundleShard();
  if (!fs.existsSync(path.join(SERVER_DIR, 'Dockerfile'))) {
    throw new Error(`shardImage: ${SERVER_DIR} has no Dockerfile`);
  }
  return ecs.ContainerImage.fromAsset(SERVER_DIR, { platform: Platform.LINUX_ARM64, exclude: ['*.ts', 'test', 'node_modules'] });
}

/** The bot's two functions, by the file under `lambda/` that exports `handler`. */
export type BotFunction = 'command-api' | 'worker';

/** Where the function bundles go: under the repository's `cdk.out/` (build output, not committed). */
const OUT_DIR = path.join(__dirname, '..', '..', 'cdk.out', 'bot-functions');

/**
 * Bundles `lambda/<name>.ts` and what it imports into `<dir>/index.js` (handler `index.handler`) for the
 * Node.js Lambda runtime, and returns the directory. Everything is bundled, the AWS SDK clients too, so the
 * function runs the versions it was tested with.
 */
export function bundleFunction(name: BotFunction): string {
  const dir = path.join(OUT_DIR, name);
  buildSync({ ...COMMON, entryPoints: [path.join(__dirname, 'lambda', `${name}.ts`)], outfile: path.join(dir, 'index.js'), minify: true });
  return dir;
}
