/**
 * Builds the monitoring page (app/) into attachments of the monitor design document: the
 * TypeScript entry bundled for browsers with d3 inlined, plus the static files next to it.
 */
import { build } from 'esbuild';
import * as fs from 'fs';
import * as path from 'path';
import type { Attachment } from './types';

const STATIC: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export async function buildApp(root: string): Promise<Record<string, Attachment>> {
  const dir = path.join(root, 'app');
  const out = await build({
    entryPoints: [path.join(dir, 'main.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const files: Record<string, Attachment> = {
    'main.js': {
      content_type: 'application/javascript; charset=utf-8',
      data: Buffer.from(out.outputFiles[0].contents),
    },
  };
  for (const name of fs.readdirSync(dir).sort()) {
    const type = STATIC[path.extname(name)];
    if (type) files[name] = { content_type: type, data: fs.readFileSync(path.join(dir, name)) };
  }
  if (!files['index.html']) throw new Error('app/index.html is missing');
  return files;
}
