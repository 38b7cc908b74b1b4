/** Small statistics and number formatting shared by the scenarios and the report. */

/** Median of the finite values (NaN when there are none): one odd repetition does not move it. */
export const median = (values: number[]): number => {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Nearest-rank percentile of an unsorted array (sorted in place). */
export const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN;
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))]!;
};

export const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

export const mb = (bytes: number): string => (bytes > 0 ? (bytes / 1024 / 1024).toFixed(0) : 'n/a');

/** Bytes in a short human unit: "812 B", "19.5 KB". */
export const bytesText = (bytes: number): string => {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (Math.abs(bytes) < 1024) return `${bytes.toFixed(0)} B`;
  return `${(bytes / 1024).toFixed(1)} KB`;
};

/** Epoch ms with sub-ms precision, comparable with the fake model's token stamps. */
export const now = (): number => performance.timeOrigin + performance.now();
