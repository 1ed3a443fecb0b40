// Flag parsing shared by the client verbs.
import { usageError } from '../io.js';

/** Commander collector for repeatable flags (`-f a -f b`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export type DryRun = 'none' | 'client' | 'server';

/** `--dry-run=none|client|server` (kubectl also accepts true/false for client/none). */
export function parseDryRun(value: string | boolean | undefined): DryRun {
  switch (value) {
    case undefined:
    case false:
    case 'none':
    case 'false':
      return 'none';
    case 'client':
    case true:
    case 'true':
      return 'client';
    case 'server':
      return 'server';
    default:
      throw usageError(`invalid --dry-run value "${String(value)}": must be none, client or server`);
  }
}

export function parseBool(value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw usageError(`invalid boolean "${value}" (use true or false)`);
}

/** Non-negative integer flags (`--replicas`). */
export function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw usageError(`invalid ${flag} value "${value}": must be an integer`);
  return Number.parseInt(value, 10);
}
