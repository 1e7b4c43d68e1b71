import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

export const CONSOLE_PREFIX = '/console';

/** Strict policy of the console pages: own scripts and styles only, nothing inline, no framing. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where the Vite build of web/ is: dist/web beside the compiled server, or from src/ under Vitest. */
export function findConsoleBuild(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [
    join(here, '..', '..', 'web'),
    join(here, '..', '..', '..', 'dist', 'web'),
  ]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}

function listFiles(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files.set('/' + relative(root, full).split(sep).join('/'), full);
    }
  };
  walk(root);
  return files;
}

/**
 * The admin console: a single-page app built by Vite into dist/web (by `npm ci` /
 * `npm run build`), served from memory at /console/ with a strict CSP. `/` redirects to
 * the sign-in page. Only files of the build are served (a fixed list read at start-up:
 * no path from the URL ever reaches the file system).
 */
export async function consolePlugin(
  app: FastifyInstance,
  options: { root?: string } = {},
): Promise<void> {
  const root = options.root ?? findConsoleBuild();
  const files = new Map<string, { body: Buffer; type: string }>();
  if (root !== undefined) {
    for (const [path, full] of listFiles(root))
      files.set(path, {
        body: readFileSync(full),
        type: TYPES[extname(full)] ?? 'application/octet-stream',
      });
  }
  const index = files.get('/index.html');

  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.url.startsWith(CONSOLE_PREFIX) && request.url !== '/') return payload;
    void reply.header('Content-Security-Policy', CONSOLE_CSP);
    void reply.header('X-Frame-Options', 'DENY');
    void reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    void reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    void reply.header(
      'Permissions-Policy',
      'camera=(), microphone=(), geolocation=(), clipboard-write=(self)',
    );
    return payload;
  });

  app.get('/', async (_request, reply) => reply.redirect(`${CONSOLE_PREFIX}/sign-in`, 302));

  const serve = async (
    request: { url: string },
    reply: import('fastify').FastifyReply,
  ): Promise<unknown> => {
    const path = (request.url.split('?')[0] ?? '').slice(CONSOLE_PREFIX.length) || '/';
    const file = files.get(path);
    if (file !== undefined && path !== '/index.html') {
      // Vite names assets by content hash: cache them for good.
      const immutable = path.startsWith('/assets/');
      return reply
        .type(file.type)
        .header('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .send(file.body);
    }
    if (path.startsWith('/assets/'))
      return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    if (index === undefined) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(
          'The console is not built: run `npm run build` (npm ci runs it) to build web/ into dist/web.',
        );
    }
    // Every console route is the app's index page; the app reads the path.
    return reply
      .type('text/html; charset=utf-8')
      .header('Cache-Control', 'no-cache')
      .send(index.body);
  };
  app.get(CONSOLE_PREFIX, serve);
  app.get(`${CONSOLE_PREFIX}/*`, serve);
}
