#!/usr/bin/env node
// `npx toloka-pool …`. In this repository (cli/main.ts beside this file) it runs the TypeScript
// through tsx, a dev dependency, so the CLI and the Lambdas share lambda/runtime/ without a
// build step; in the installed package, which ships no sources, it runs the compiled
// dist/cli/main.mjs (`npm run build`), which needs neither tsx nor any dev dependency.
import { existsSync } from 'node:fs';

if (existsSync(new URL('./main.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./main.ts');
} else {
  await import('../dist/cli/main.mjs');
}
