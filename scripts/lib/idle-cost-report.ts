import { IdleEstimate } from './idle-cost';
import { formatTable } from './table';

export interface ExampleArgs {
  /** Example names; empty for all. */
  readonly names: string[];
  /** `--cost`: print each stack's cost lines. */
  readonly showCost: boolean;
  /** `-c key=value` / `--context key=value`, as for `cdk synth`. */
  readonly context: Record<string, string>;
}

/** Reads `npm run examples` arguments: names, `--cost`, `-c key=value`. */
export function parseExampleArgs(args: string[]): ExampleArgs {
  const names: string[] = [];
  const context: Record<string, string> = {};
  let showCost = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--cost') {
      showCost = true;
    } else if (arg === '-c' || arg === '--context') {
      const pair = args[++i] ?? '';
      const eq = pair.indexOf('=');
      if (eq <= 0) {
        throw new Error(`${arg} needs key=value, got "${pair}"; for example: -c profile=lean`);
      }
      context[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else if (arg.startsWith('-')) {
      throw new Error(`Unknown option ${arg}; options are --cost and -c key=value`);
    } else {
      names.push(arg);
    }
  }
  return { names, showCost, context };
}

/** The priced, usage-priced and unpriced lines of an estimate as a table (free resources left out). */
export function formatCostLines(estimate: IdleEstimate): string {
  return formatTable(estimate.lines.filter(l => l.kind !== 'free').map(l => ({
    'resource': l.logicalId,
    'kind': l.kind,
    'what': l.item,
    'quantity': l.kind === 'priced' ? l.quantity : '',
    'unit': l.kind === 'priced' ? l.unit : '',
    '$/month': l.kind === 'priced' ? l.monthly : '',
    'note': l.note ?? '',
  })));
}
