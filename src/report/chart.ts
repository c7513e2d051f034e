/**
 * A horizontal bar chart as SVG text, browser-safe (the CLI turns it into PNG with sharp): one bar
 * per row, longest first as given, highlighted rows (the problem layers) in a second colour, the
 * value printed at the end of each bar.
 */
export interface Bar {
  label: string;
  value: number;
  highlight?: boolean;
  /** Printed after the value, e.g. a share of parameters. */
  note?: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function barChartSvg(bars: readonly Bar[], opts: { title: string; subtitle?: string; axis: string }): string {
  const rowH = 22, left = 190, right = 170, top = opts.subtitle ? 64 : 48, width = 900;
  const plotW = width - left - right;
  const height = top + bars.length * rowH + 40;
  const max = Math.max(...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1e-30);
  const fmt = (v: number) => (Math.abs(v) >= 1e3 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : v.toPrecision(3));
  const rows = bars.map((b, i) => {
    const y = top + i * rowH, w = Math.max(1, (Math.max(0, b.value) / max) * plotW);
    const fill = b.highlight ? '#c0392b' : '#5b7fa6';
    return `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="13">${esc(b.label)}</text>` +
      `<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${fill}"/>` +
      `<text x="${left + w + 6}" y="${y + 15}" font-size="12" fill="#333">${esc(fmt(b.value) + (b.note ? `  ${b.note}` : ''))}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="28" font-size="17" font-weight="bold">${esc(opts.title)}</text>`,
    opts.subtitle ? `<text x="20" y="48" font-size="13" fill="#555">${esc(opts.subtitle)}</text>` : '',
    ...rows,
    `<text x="${left + plotW / 2}" y="${height - 12}" text-anchor="middle" font-size="12" fill="#555">${esc(opts.axis)}</text>`,
    '</svg>',
  ].join('\n');
}
