// Table layout like kubectl's tabwriter (min width 6, padding 3, last column unpadded).
import type { KubeObject } from '../../api/types.js';
import { formatLabels, type Cell, type TablePrinter } from '../../api/table/columns.js';

export interface TableOptions {
  wide?: boolean;
  /** Prepend a NAMESPACE column (`-A`). */
  withNamespace?: boolean;
  /** Append a LABELS column (`--show-labels`). */
  showLabels?: boolean;
  /** Prefix the name column with e.g. `deployment.apps/` (when several kinds are printed together). */
  namePrefix?: string;
}

export function headerOf(printer: TablePrinter, opts: TableOptions): string[] {
  const header = printer.columns
    .filter((c) => c.priority === 0 || opts.wide === true)
    .map((c) => c.name.toUpperCase());
  if (opts.withNamespace === true) header.unshift('NAMESPACE');
  if (opts.showLabels === true) header.push('LABELS');
  return header;
}

function cellText(cell: Cell | undefined): string {
  return cell === undefined ? '' : String(cell);
}

export function rowOf(printer: TablePrinter, obj: KubeObject, now: number, opts: TableOptions): string[] {
  const cells = printer.cells(obj, now);
  const row: string[] = [];
  printer.columns.forEach((c, i) => {
    if (c.priority !== 0 && opts.wide !== true) return;
    const text = cellText(cells[i]);
    row.push(
      c.format === 'name' && opts.namePrefix !== undefined && c.name === 'Name'
        ? `${opts.namePrefix}${text}`
        : text,
    );
  });
  if (opts.withNamespace === true) row.unshift(obj.metadata.namespace ?? '');
  if (opts.showLabels === true) row.push(formatLabels(obj.metadata.labels));
  return row;
}

const minWidth = 6;
const padding = 3;

/** Column widths for a set of rows (tabwriter: max cell + padding, at least minWidth). */
export function columnWidths(rows: string[][]): number[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i === row.length - 1) return;
      widths[i] = Math.max(widths[i] ?? minWidth, cell.length + padding);
    });
  }
  return widths;
}

export function formatRow(row: string[], widths: number[]): string {
  return row
    .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? cell.length + padding)))
    .join('')
    .trimEnd();
}

/** Lay rows out as aligned text, one line each, with a trailing newline. */
export function formatTable(rows: string[][]): string {
  const widths = columnWidths(rows);
  return rows.map((r) => `${formatRow(r, widths)}\n`).join('');
}

/** Prints a table whose later rows (from a watch) keep the alignment of the first batch. */
export class StreamingTable {
  private widths: number[] = [];

  /** Format header + rows, remembering the widths. */
  start(rows: string[][]): string {
    this.widths = columnWidths(rows);
    return rows.map((r) => `${formatRow(r, this.widths)}\n`).join('');
  }

  /** Format one more row, widening columns only when a cell does not fit. */
  row(row: string[]): string {
    row.forEach((cell, i) => {
      if (i < row.length - 1) this.widths[i] = Math.max(this.widths[i] ?? minWidth, cell.length + padding);
    });
    return `${formatRow(row, this.widths)}\n`;
  }
}
