import { Duration, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Throws a synth-time error that names the construct path, the prop, the value and the fix,
 * e.g. `Stack/Service: drainTimeout 200s exceeds Fargate's 120s stopTimeout limit; use 120s or less`.
 */
export function invalidProp(scope: IConstruct, prop: string, value: unknown, problem: string, fix: string): never {
  throw new Error(`${scope.node.path}: ${prop} ${describe(value)} ${problem}; ${fix}`);
}

function describe(value: unknown): string {
  if (value instanceof Duration) {
    return `${value.toSeconds({ integral: false })}s`;
  }
  if (typeof value === 'string') {
    return `'${value}'`;
  }
  return String(value);
}

/** Checks a whole number in [min, max] unless it is an unresolved token. */
export function checkInteger(scope: IConstruct, prop: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined || Token.isUnresolved(value)) {
    return;
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    invalidProp(scope, prop, value, `is not a whole number from ${min} to ${max}`, `use a value from ${min} to ${max}`);
  }
}

/**
 * Checks a duration in whole seconds within [minSeconds, maxSeconds]; returns the seconds, or undefined
 * when the duration is an unresolved token (a CloudFormation parameter, say), which only deployment can check.
 */
export function checkSeconds(
  scope: IConstruct, prop: string, value: Duration, minSeconds: number, maxSeconds: number, limitName: string,
): number | undefined {
  if (value.isUnresolved()) {
    return undefined;
  }
  const seconds = value.toSeconds({ integral: false });
  if (!Number.isInteger(seconds)) {
    invalidProp(scope, prop, value, 'is not a whole number of seconds', 'use whole seconds');
  }
  if (seconds < minSeconds || seconds > maxSeconds) {
    const bound = seconds < minSeconds ? `is below ${limitName}'s ${minSeconds}s minimum` : `exceeds ${limitName}'s ${maxSeconds}s limit`;
    invalidProp(scope, prop, value, bound, `use a value from ${minSeconds}s to ${maxSeconds}s`);
  }
  return seconds;
}
