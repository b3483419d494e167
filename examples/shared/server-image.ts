import * as fs from 'fs';
import * as path from 'path';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { buildSync } from 'esbuild';

/**
 * Bundles an example server (`<dir>/server.ts` and everything it imports, the kit included) with esbuild
 * into `<dir>/dist/server.js`, and returns an image built from `<dir>/Dockerfile` for ARM64, the
 * architecture RealtimeFargateService runs on by default. Bundling first keeps the image to one file
 * plus the Node.js runtime, and lets `cdk synth` stage it without Docker.
 */
export function serverImage(dir: string): ecs.ContainerImage {
  bundleServer(dir);
  if (!fs.existsSync(path.join(dir, 'Dockerfile'))) {
    throw new Error(`serverImage: ${dir} has no Dockerfile`);
  }
  return ecs.ContainerImage.fromAsset(dir, {
    platform: Platform.LINUX_ARM64,
    exclude: ['*.ts', 'test', 'node_modules'],
  });
}

/** Bundles `<dir>/server.ts` into `<dir>/dist/server.js`, the file the image runs. */
export function bundleServer(dir: string): string {
  const outfile = path.join(dir, 'dist', 'server.js');
  buildSync({
    entryPoints: [path.join(dir, 'server.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    sourcemap: 'linked',
    // Optional native speed-ups of ws; it falls back to JavaScript without them.
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'warning',
  });
  return outfile;
}
