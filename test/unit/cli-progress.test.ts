import { describe, expect, it } from 'vitest';
import { ProgressReporter, progressBar } from '../../cli/progress.ts';

function stream(isTTY: boolean) {
  const written: string[] = [];
  return { written, isTTY, columns: 60, write: (text: string) => written.push(text) };
}

describe('progress on stderr', () => {
  it('draws a 20-cell bar', () => {
    expect(progressBar(0)).toBe('[....................]   0%');
    expect(progressBar(45)).toBe('[#########...........]  45%');
    expect(progressBar(100)).toBe('[####################] 100%');
    expect(progressBar(140)).toBe('[####################] 100%');
  });

  it('off a terminal, prints one line per change of status or progress', () => {
    let now = 1_000;
    const out = stream(false);
    const reporter = new ProgressReporter(out, 'pool 7', () => now);
    reporter.update({ status: 'PENDING', progress: 0 });
    now += 1_000;
    reporter.update({ status: 'PENDING', progress: 0 });
    reporter.update({ status: 'RUNNING', progress: 40 });
    reporter.note(
      'pool 7: checking the opening failed: Toloka answered 503 Service Unavailable; trying again in 0.2 s',
    );
    reporter.update({ status: 'SUCCESS', progress: 100 });
    reporter.done();
    expect(out.written.join('')).toBe(
      'pool 7: PENDING 0% (0.0 s)\n' +
        'pool 7: RUNNING 40% (1.0 s)\n' +
        'pool 7: checking the opening failed: Toloka answered 503 Service Unavailable; trying again in 0.2 s\n' +
        'pool 7: SUCCESS 100% (1.0 s)\n',
    );
  });

  it('on a terminal, redraws one line, fitted to the width, and keeps it below notes', () => {
    const out = stream(true);
    const reporter = new ProgressReporter(out, 'pool 7', () => 0);
    reporter.update({ status: 'RUNNING', progress: 50 });
    reporter.note('a note');
    reporter.update({ status: 'SUCCESS', progress: 100 });
    reporter.done();
    const text = out.written.join('');
    expect(text).toContain('\r\x1b[2Kpool 7: RUNNING [##########..........]  50%  0.0 s');
    expect(text).toContain('\r\x1b[2Ka note\n\r\x1b[2Kpool 7: RUNNING');
    expect(text.endsWith('pool 7: SUCCESS [####################] 100%  0.0 s\n')).toBe(true);
    expect(text.split('\r\x1b[2K').every((line) => line.replace('\n', '').length < 60)).toBe(true);
  });
});
