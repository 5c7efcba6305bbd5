// Markdown table building shared by the generated tables of docs/ (tables.ts, exchange.ts).

/** A Markdown table cell: a `|` would end the cell. */
export function cell(text: string): string {
  return text.replaceAll('|', '\\|')
}

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n')
}
