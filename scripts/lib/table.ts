/** Formats rows as an aligned text table: numbers right-aligned, text left-aligned. */
export function formatTable(rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) {
    return '';
  }
  const columns = Object.keys(rows[0]);
  const widths = columns.map(c => Math.max(c.length, ...rows.map(r => String(r[c]).length)));
  const cell = (value: string | number, i: number) =>
    typeof value === 'number' ? String(value).padStart(widths[i]) : String(value).padEnd(widths[i]);
  const line = (values: Array<string | number>) => '  ' + values.map(cell).join('  ');
  return [
    line(columns.map((c, i) => (typeof rows[0][c] === 'number' ? c.padStart(widths[i]) : c))),
    '  ' + widths.map(w => '-'.repeat(w)).join('  '),
    ...rows.map(r => line(columns.map(c => r[c]))),
  ].join('\n');
}
