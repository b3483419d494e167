import { Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { invalidProp } from '../private/validation';

/**
 * Fargate's (Linux) task sizes: for each CPU value, the memory range in MiB and its step.
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-cpu-memory-error.html
 */
const FARGATE_SIZES: Readonly<Record<number, { min: number; max: number; step: number }>> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16_384, step: 1024 },
  4096: { min: 8192, max: 30_720, step: 1024 },
  8192: { min: 16_384, max: 61_440, step: 4096 },
  16_384: { min: 32_768, max: 122_880, step: 8192 },
};

/** The memory values Fargate accepts with `cpu`. */
export function fargateMemoryChoices(cpu: number): number[] {
  const size = FARGATE_SIZES[cpu];
  if (!size) {
    return [];
  }
  const choices: number[] = [];
  for (let memory = size.min; memory <= size.max; memory += size.step) {
    // 256 CPU takes 512, 1024 and 2048 only.
    if (cpu !== 256 || memory !== 1536) {
      choices.push(memory);
    }
  }
  return choices;
}

/** Fails unless `cpu` and `memory` (MiB) are a Fargate task size; tokens are left to deployment. */
export function checkFargateSize(scope: IConstruct, cpu: number, memory: number): void {
  if (Token.isUnresolved(cpu) || Token.isUnresolved(memory)) {
    return;
  }
  if (!FARGATE_SIZES[cpu]) {
    invalidProp(scope, 'cpu', cpu, 'is not a Fargate task CPU value', `use one of ${Object.keys(FARGATE_SIZES).join(', ')}`);
  }
  const choices = fargateMemoryChoices(cpu);
  if (!choices.includes(memory)) {
    const size = FARGATE_SIZES[cpu];
    invalidProp(scope, 'memoryLimitMiB', memory, `is not a Fargate memory size for cpu ${cpu}`,
      cpu === 256 ? 'use 512, 1024 or 2048' : `use ${size.min} to ${size.max} in steps of ${size.step}`);
  }
}
