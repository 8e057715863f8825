#!/usr/bin/env node
// `npx toloka-pool …` inside this repository: runs the TypeScript command line through tsx (a dev
// dependency), so the CLI and the Lambdas share lambda/runtime/ without a build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
