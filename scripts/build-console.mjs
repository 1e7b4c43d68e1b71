// Builds the admin console (web/) after `tsc` has built the server into dist/:
// 1. writes the admin API's OpenAPI document (from the real route declarations),
// 2. generates the typed client's types from it (web/src/api/schema.d.ts),
// 3. type-checks web/ and bundles it with Vite into dist/web (served at /console/).
// Nothing is fetched from other hosts; `npm ci` runs this through `prepare` -> `build`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { adminOpenApiDocument } = await import(join(root, 'dist/http/admin/openapi-doc.js'));
const doc = await adminOpenApiDocument();
writeFileSync(join(root, 'dist/admin-openapi.json'), JSON.stringify(doc, null, 2) + '\n');

const { default: openapiTS, astToString } = await import('openapi-typescript');
const types =
  '// Generated from the admin API OpenAPI document by scripts/build-console.mjs: do not edit.\n' +
  astToString(await openapiTS(doc));
const target = join(root, 'web/src/api/schema.d.ts');
if (!existsSync(target) || readFileSync(target, 'utf8') !== types) writeFileSync(target, types);

execFileSync(
  process.execPath,
  [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(root, 'web/tsconfig.json'),
    '--noEmit',
  ],
  {
    stdio: 'inherit',
  },
);
const { build } = await import('vite');
await build({ configFile: join(root, 'web/vite.config.ts'), logLevel: 'warn' });
