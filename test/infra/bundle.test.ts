import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { logicalId, propertiesOf, REPO_ROOT, type Synthesized, synthFromConfig } from './support.ts';

// What Lambda runs: the assets of one synth with real bundling (test/fixtures/config/minimal.json),
// started with the environment the template gives the functions. docs/benchmarks.md measures them.

interface DeployedFunction {
  readonly name: string;
  readonly dir: string;
  readonly environment: Record<string, unknown>;
}

let s: Synthesized;
let functions: DeployedFunction[];

beforeAll(() => {
  s = synthFromConfig('minimal.json');
  functions = (['opener', 'checker'] as const).map((name) => {
    const properties = propertiesOf(s.template, logicalId(s.stack.opener[name]));
    const { S3Key } = properties.Code as { S3Key: string };
    return {
      name,
      dir: path.join(s.assemblyDir, `asset.${S3Key.replace(/\.zip$/, '')}`),
      environment: (properties.Environment as { Variables: Record<string, unknown> }).Variables,
    };
  });
});

const read = (dir: string, file: string) => readFileSync(path.join(dir, file), 'utf8');

/** index.mjs and the chunks it imports statically: the code a cold start compiles. */
function loadedAtInit(dir: string): string[] {
  const files = ['index.mjs'];
  for (let i = 0; i < files.length; i++) {
    const text = read(dir, files[i] ?? '');
    for (const match of text.matchAll(/(?:\bfrom|\bimport)\s*"\.\/([^"]+\.mjs)"/g)) {
      if (match[1] !== undefined && !files.includes(match[1])) files.push(match[1]);
    }
  }
  return files;
}

describe('the deployed handler bundles', () => {
  it('load the AWS SDK clients on first use only: none is in index.mjs or what it imports statically', () => {
    for (const { dir } of functions) {
      const atInit = loadedAtInit(dir);
      const chunks = readdirSync(dir).filter((file) => file.endsWith('.mjs'));
      expect(chunks.length).toBeGreaterThan(atInit.length);
      const initCode = atInit.map((file) => read(dir, file)).join('\n');
      const allCode = chunks.map((file) => read(dir, file)).join('\n');
      // The JSON protocol target prefixes of SSM, SQS and EventBridge.
      for (const client of ['AmazonSSM', 'AmazonSQS', 'AWSEvents']) {
        expect(allCode, client).toContain(client);
        expect(initCode, client).not.toContain(client);
      }
      expect(initCode).toMatch(/import\("\.\/[^"]+\.mjs"\)/);
    }
  });

  it("hold undici's Agent and request, not its fetch, WebSocket or cache storage", () => {
    for (const { dir } of functions) {
      const initCode = loadedAtInit(dir)
        .map((file) => read(dir, file))
        .join('\n');
      expect(initCode).toContain('UND_ERR_HEADERS_TIMEOUT');
      for (const unused of ['sec-websocket-key', 'WebSocketStream', 'CacheStorage']) {
        expect(initCode).not.toContain(unused);
      }
    }
  });

  it('read no source map at start: no --enable-source-maps, no sourceMappingURL, the maps beside the code', () => {
    for (const { dir, environment } of functions) {
      expect(environment.NODE_OPTIONS).toBeUndefined();
      for (const file of readdirSync(dir).filter((name) => name.endsWith('.mjs'))) {
        expect(read(dir, file), file).not.toContain('sourceMappingURL');
        expect(readdirSync(dir), file).toContain(`${file}.map`);
      }
    }
  });

  it('name the TypeScript source file, line and function in a stack trace, started as the template starts them', () => {
    const source = readFileSync(path.join(REPO_ROOT, 'lambda/runtime/config.ts'), 'utf8').split('\n');
    const line = source.findIndex((text) => text.includes('throw new ConfigError(problems)')) + 1;
    expect(line).toBeGreaterThan(0);
    for (const { name, dir, environment } of functions) {
      // No configuration: the first invocation throws from readRuntimeConfig, as a misconfigured function would.
      const url = pathToFileURL(path.join(dir, 'index.mjs')).href;
      const child = spawnSync(
        path.join(REPO_ROOT, 'node_modules/.bin/node'),
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(url)}); await m.handler({ Records: [] }).catch((e) => console.log(e.stack));`,
        ],
        {
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH,
            ...(environment.NODE_OPTIONS === undefined
              ? {}
              : { NODE_OPTIONS: String(environment.NODE_OPTIONS) }),
          },
        },
      );
      expect(child.status, child.stderr).toBe(0);
      expect(child.stdout, name).toContain('Invalid configuration');
      expect(child.stdout, name).toMatch(
        new RegExp(`at readRuntimeConfig \\(.*lambda/runtime/config\\.ts:${line}:\\d+\\)`),
      );
      expect(child.stdout, name).toMatch(/lambda\/(open-pool|check-operation)\.ts:\d+:\d+/);
    }
  });
});
