import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';

/** One problem found in a template, with the path of the property that has it. */
export interface SpecProblem {
  readonly logicalId: string;
  readonly constructPath: string;
  readonly message: string;
}

type SpecDb = ReturnType<typeof loadAwsServiceSpecSync>;
type PropertyType = { type: string; [key: string]: any };
type Property = { type: PropertyType; required?: boolean };

let db: SpecDb | undefined;

/**
 * Checks every resource of a synthesized template against the CloudFormation resource specifications in
 * `@aws-cdk/aws-service-spec`: unknown resource types, unknown properties, missing required properties
 * and values of the wrong type. Intrinsic functions are accepted wherever a value is.
 */
export function validateTemplate(template: any): SpecProblem[] {
  db ??= loadAwsServiceSpecSync();
  const problems: SpecProblem[] = [];
  for (const [logicalId, resource] of Object.entries<any>(template.Resources ?? {})) {
    const constructPath = resource.Metadata?.['aws:cdk:path'] ?? logicalId;
    const report = (where: string, message: string) =>
      problems.push({ logicalId, constructPath, message: `${resource.Type}${where ? '.' + where : ''}: ${message}` });
    if (resource.Type.startsWith('Custom::') || resource.Type === 'AWS::CDK::Metadata' || resource.Type === 'AWS::CloudFormation::CustomResource') {
      continue;
    }
    const [spec] = db.lookup('resource', 'cloudFormationType', 'equals', resource.Type);
    if (!spec) {
      report('', 'unknown resource type');
      continue;
    }
    checkProperties(spec.properties as Record<string, Property>, resource.Properties ?? {}, '', report);
  }
  return problems;
}

function checkProperties(specProps: Record<string, Property>, value: any, path: string, report: (where: string, msg: string) => void): void {
  if (isIntrinsic(value)) {
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report(path, `expected an object, got ${JSON.stringify(value)}`);
    return;
  }
  for (const [name, prop] of Object.entries(specProps)) {
    if (prop.required && value[name] === undefined) {
      report(join(path, name), 'required property is missing');
    }
  }
  for (const [name, v] of Object.entries(value)) {
    const prop = specProps[name];
    if (!prop) {
      report(join(path, name), `unknown property (known: ${Object.keys(specProps).join(', ')})`);
      continue;
    }
    // Only the current type counts: previous types (often untyped JSON) are kept for old CDK code and
    // would let misspelled keys through.
    for (const [where, msg] of typeErrors(prop.type, v, join(path, name))) {
      report(where, msg);
    }
  }
}

/** Problems of one value against one type; empty when it matches. */
function typeErrors(type: PropertyType, value: any, path: string): Array<[string, string]> {
  if (isIntrinsic(value)) {
    return [];
  }
  const errs: Array<[string, string]> = [];
  const fail = (msg: string) => [[path, msg]] as Array<[string, string]>;
  switch (type.type) {
    case 'string':
    case 'date-time':
      return typeof value === 'string' ? [] : fail(`expected a string, got ${JSON.stringify(value)}`);
    case 'integer':
      return Number.isInteger(typeof value === 'string' ? Number(value) : value) && value !== '' ? [] : fail(`expected an integer, got ${JSON.stringify(value)}`);
    case 'number':
      return typeof value === 'number' || (typeof value === 'string' && value !== '' && !isNaN(Number(value))) ? [] : fail(`expected a number, got ${JSON.stringify(value)}`);
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false' ? [] : fail(`expected a boolean, got ${JSON.stringify(value)}`);
    case 'json':
      return typeof value === 'object' && value !== null ? [] : fail(`expected a JSON object, got ${JSON.stringify(value)}`);
    case 'null':
      return value === null ? [] : fail('expected null');
    case 'tag':
      return typeof value === 'object' && value !== null && 'Key' in value && 'Value' in value ? [] : fail(`expected a {Key, Value} tag, got ${JSON.stringify(value)}`);
    case 'array':
      if (!Array.isArray(value)) {
        return fail(`expected a list, got ${JSON.stringify(value)}`);
      }
      value.forEach((item, i) => errs.push(...typeErrors(type.element, item, `${path}[${i}]`)));
      return errs;
    case 'map':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return fail(`expected a map, got ${JSON.stringify(value)}`);
      }
      for (const [k, item] of Object.entries(value)) {
        errs.push(...typeErrors(type.element, item, `${path}.${k}`));
      }
      return errs;
    case 'union': {
      const each = (type.types as PropertyType[]).map(t => typeErrors(t, value, path));
      return each.some(e => e.length === 0) ? [] : each[0];
    }
    case 'ref': {
      const def = db!.get('typeDefinition', type.reference.$ref) as { properties: Record<string, Property> };
      checkProperties(def.properties, value, path, (where, msg) => errs.push([where, msg]));
      return errs;
    }
    default:
      return fail(`the specification uses type '${type.type}', which this validator does not know`);
  }
}

function isIntrinsic(value: any): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false;
  }
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'));
}

function join(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}
