/**
 * Plain-text layout for people: aligned tables and shortened tokens.
 *
 * @since 0.1.0
 */

/**
 * One line per field, name column aligned.
 *
 * @since 0.1.0
 * @category text
 */
export const table = (rows: ReadonlyArray<readonly [string, string]>): Array<string> => {
  const width = Math.max(0, ...rows.map(([name]) => name.length))
  return rows.map(([name, value]) => `${name.padEnd(width)}  ${value}`)
}

/**
 * A long token shortened for display: its first and last characters.
 *
 * @since 0.1.0
 * @category text
 */
export const abbreviate = (text: string, keep = 16): string =>
  text.length <= keep * 2 + 1 ? text : `${text.slice(0, keep)}…${text.slice(-keep)}`

/**
 * Rows of cells, each column padded to its widest cell.
 *
 * @since 0.1.0
 * @category text
 */
export const columns = (rows: ReadonlyArray<ReadonlyArray<string>>, gap = "  "): Array<string> => {
  const widths: Array<number> = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows.map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]!)).join(gap))
}
