/// <reference types="node" />
// What a document's bytes may do in the webview, and what the webview may ask of the app.
import { render } from '@testing-library/preact';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

vi.mock('@tauri-apps/api/core', () => ({ invoke: () => Promise.resolve(null) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: () => Promise.resolve(() => {}) }));

const { Viewer } = await import('./DocumentView');

describe('Viewer', () => {
  it('shows a PDF in a sandboxed frame: no navigating the app, no popups, forms, dialogs or downloads', () => {
    const { container } = render(<Viewer mime="application/pdf" url="blob:http://localhost/pdf" text={null} error={null} />);
    const frame = container.querySelector('iframe');
    expect(frame).toBeTruthy();
    expect(frame!.getAttribute('src')).toBe('blob:http://localhost/pdf');
    expect(frame!.hasAttribute('sandbox')).toBe(true);
    const allowed = (frame!.getAttribute('sandbox') ?? '').split(/\s+/).filter(Boolean);
    // Exactly what WebKitGTK's PDF viewer (PDF.js, a script reading the blob) needs to render:
    // checked in the real app (e2e screenshot 06b-pdf.png); anything more is a new exception.
    expect([...allowed].sort()).toEqual(['allow-same-origin', 'allow-scripts']);
  });

  it('shows images and text without a frame', () => {
    const image = render(<Viewer mime="image/png" url="blob:http://localhost/png" text={null} error={null} />);
    expect(image.container.querySelector('iframe')).toBeNull();
    expect(image.container.querySelector('img')?.getAttribute('src')).toBe('blob:http://localhost/png');
    const text = render(<Viewer mime="text/plain" url="blob:http://localhost/txt" text="Seen today." error={null} />);
    expect(text.container.querySelector('iframe')).toBeNull();
    expect(text.container.querySelector('pre')?.textContent).toBe('Seen today.');
  });

  it('offers no frame for other types', () => {
    const { container } = render(<Viewer mime="text/html" url="blob:http://localhost/html" text={null} error={null} />);
    expect(container.querySelector('iframe')).toBeNull();
    expect(container.textContent).toContain('download it');
  });
});

/** The permissions each Tauri JS API the UI calls needs; the app's own commands need none. */
const NEEDS: Record<string, string[]> = {
  '@tauri-apps/api/core invoke': [],
  '@tauri-apps/api/event listen': ['core:event:allow-listen', 'core:event:allow-unlisten'],
  '@tauri-apps/api/event UnlistenFn': [],
};

function sources(dir: string): { name: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return sources(join(dir, entry.name));
    if (!/\.tsx?$/.test(entry.name) || /\.test\.tsx?$/.test(entry.name) || entry.name === 'test-support.ts') return [];
    return [{ name: entry.name, text: readFileSync(join(dir, entry.name), 'utf8') }];
  });
}

describe('the webview capabilities', () => {
  it('grant exactly what the UI calls (the updater and the rest of core:default stay closed)', () => {
    const here = dirname(expect.getState().testPath!);
    const needed = new Set<string>();
    for (const { name, text } of sources(join(here, '..'))) {
      const mentions = text.match(/@tauri-apps\//g)?.length ?? 0;
      const imports = [...text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'(@tauri-apps\/[^']+)'/g)];
      expect(imports.length, `${name}: every use of a Tauri package is a named import`).toBe(mentions);
      for (const [, names, module] of imports) {
        for (const item of names.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]).filter(Boolean)) {
          const key = `${module} ${item}`;
          expect(NEEDS, `${name} uses ${key}: grant its permission in src-tauri/capabilities and list it here`).toHaveProperty([key]);
          NEEDS[key].forEach((p) => needed.add(p));
        }
      }
    }
    const dir = join(here, '../../../src-tauri/capabilities');
    const granted = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { permissions: (string | { identifier: string })[] }).permissions)
      .map((p) => (typeof p === 'string' ? p : p.identifier));
    expect([...granted].sort()).toEqual([...needed].sort());
  });
});
