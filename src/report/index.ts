// `multirobust/report`: SVG line charts (plot.ts) and PNG encoding and image grids (png.ts), the
// figures of the HTML report and the experiments; generic enough for a subpath, not the package root.
export { lineChartSvg, lineChartSpec, type LineChart, type Series } from './plot.ts';
export { encodePng, imageGridPng, imageGridLayout, type GridRow, type ImageGrid, type ImageGridLayout } from './png.ts';
