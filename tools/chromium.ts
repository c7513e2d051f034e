// Debian's Chromium, headless, with WebGPU (SwiftShader without a GPU), driven by playwright-core:
// shared by the browser tests and the screenshot script. Pages must come from 127.0.0.1 (a secure
// context), never about:blank.
export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-unsafe-webgpu',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--enable-features=Vulkan'] });
}
