// Go's text/tabwriter (the elastic tabstops kubectl's output is laid out with), for left-aligned
// cells padded with spaces. Cells are tab-terminated; a line's text after its last tab is not part
// of any column. A column is aligned over each block of consecutive lines that have a cell in it.

export interface TabwriterOptions {
  /** Minimal cell width, padding included (kubectl get: 6, describe: 0). */
  minWidth: number;
  /** Spaces added to the widest cell of a column (kubectl get: 3, describe: 2). */
  padding: number;
}

function width(text: string): number {
  return [...text].length;
}

export function tabwrite(text: string, opts: TabwriterOptions): string {
  const endsWithNewline = text.endsWith('\n');
  const lines = (endsWithNewline ? text.slice(0, -1) : text).split('\n').map((l) => l.split('\t'));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const cells = lines[i] ?? [];
      let line = '';
      cells.forEach((cell, j) => {
        const w = widths[j];
        line +=
          j < cells.length - 1 && w !== undefined ? cell + ' '.repeat(Math.max(0, w - width(cell))) : cell;
      });
      out.push(line);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let start = line0;
    for (let i = line0; i < line1; i++) {
      if (column >= (lines[i]?.length ?? 0) - 1) continue;
      writeLines(start, i);
      start = i;
      let w = opts.minWidth;
      for (; i < line1; i++) {
        const cells = lines[i] ?? [];
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column] ?? '') + opts.padding);
      }
      widths.push(w);
      format(start, i);
      widths.pop();
      start = i;
      i--; // the outer loop's i++ must look at line i again
    }
    writeLines(start, line1);
  };

  format(0, lines.length);
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}
