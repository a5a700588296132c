// Number formatting shared by the printed tables and reports: an accuracy in [0, 1] as a percentage
// with one decimal, with or without the unit.
export const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;
export const pctNumber = (v: number): string => (100 * v).toFixed(1);
