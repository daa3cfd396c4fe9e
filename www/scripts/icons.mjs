// Renders public/icons/icon.svg into the PNG icons of the manifest (run once after
// editing the SVG; the PNGs are committed). Uses Debian's chromium via playwright-core.
import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'icons');
const svg = readFileSync(join(dir, 'icon.svg'), 'utf8');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
for (const [name, size, pad, bg] of [['icon-192.png', 192, 0, 'transparent'], ['icon-512.png', 512, 0, 'transparent'], ['icon-maskable-512.png', 512, 0.1, '#0b5d4b']]) {
  await page.setViewportSize({ width: size, height: size });
  const inner = Math.round(size * (1 - 2 * pad));
  await page.setContent(`<body style="margin:0;background:${bg};display:grid;place-items:center;width:${size}px;height:${size}px">` +
    `<div style="width:${inner}px;height:${inner}px">${svg.replace('<svg ', `<svg width="${inner}" height="${inner}" `)}</div></body>`);
  writeFileSync(join(dir, name), await page.screenshot({ omitBackground: bg === 'transparent' }));
}
await browser.close();
