// The report module's public API: SVG line charts (plot.ts) and PNG encoding and image grids (png.ts).
export { lineChartSvg, lineChartSpec, type LineChart, type Series } from './plot.ts';
export { encodePng, imageGridPng, imageGridLayout, type GridRow, type ImageGrid, type ImageGridLayout } from './png.ts';
