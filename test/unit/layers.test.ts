import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The three layers of lambda/: the domain (runtime/) declares its ports and imports nothing but
// itself, the adapters (adapters/) implement those ports on AWS, HTTP and stdout, and the wiring
// (wiring/) builds them for the handlers. The same domain runs in Lambda, the CLI and locally
// only as long as it stays free of them.

const LAMBDA = resolve(new URL('../../lambda', import.meta.url).pathname);

/** Every module specifier of a TypeScript file: static imports and re-exports, and `import()`. */
function specifiers(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of source.matchAll(
    /\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|^import\s+'([^']+)'/gm,
  )) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier !== undefined) found.push(specifier);
  }
  return found;
}

/** What a file imports: the folder of lambda/ a relative import lands in, or the package's name. */
function importsOf(folder: string): { file: string; target: string }[] {
  const dir = join(LAMBDA, folder);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .flatMap((name) =>
      specifiers(join(dir, name)).map((specifier) => ({
        file: `${folder}/${name}`,
        target: specifier.startsWith('.')
          ? dirname(relative(LAMBDA, resolve(dir, specifier))) || '.'
          : `package ${specifier}`,
      })),
    );
}

describe('the layers of lambda/', () => {
  it('finds the imports it checks (a scan that saw none would pass anything)', () => {
    expect(importsOf('adapters')).toContainEqual({
      file: 'adapters/sqs-check-queue.ts',
      target: 'package @aws-sdk/client-sqs',
    });
    expect(importsOf('adapters')).toContainEqual({ file: 'adapters/sqs-check-queue.ts', target: 'runtime' });
    expect(importsOf('runtime').length).toBeGreaterThan(20);
  });

  it('keeps the domain to itself: no adapter, no wiring, no package, no Node.js built-in', () => {
    const outside = importsOf('runtime').filter(({ target }) => target !== 'runtime');
    expect(outside).toEqual([]);
  });

  it('lets adapters reach the domain and their libraries, never the wiring or a handler', () => {
    const wrong = importsOf('adapters').filter(({ target }) => target === 'wiring' || target === '.');
    expect(wrong).toEqual([]);
  });

  it('declares every port the adapters implement in the domain', () => {
    const implemented = readdirSync(join(LAMBDA, 'adapters')).flatMap((name) => [
      ...readFileSync(join(LAMBDA, 'adapters', name), 'utf8').matchAll(/\bimplements\s+(\w+)/g),
    ]);
    const ports = [...new Set(implemented.map((match) => match[1]))].sort();
    expect(ports).toEqual(['CheckQueue', 'OpeningsLedger', 'OutcomeSink', 'TokenSource', 'TolokaApi']);
    const declared = ['ports.ts', 'openings-ledger.ts']
      .map((name) => readFileSync(join(LAMBDA, 'runtime', name), 'utf8'))
      .join('\n');
    for (const port of ports) expect(declared).toMatch(new RegExp(`export interface ${port} \\{`));
  });
});
