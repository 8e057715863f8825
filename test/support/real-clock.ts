/**
 * The environment for the Python peers (moto, toloka-kit): the caller's, without libfaketime.
 * They stand for AWS and for Toloka's SDK, whose clocks are not the app's; and libfaketime's
 * timed waits break Python's threads (moto's long polls stall, sockets fail with EINVAL), so
 * `npm run test:year-ahead` moves only Node.js's clock: the app's, the emulator's, the tests'.
 */
export function realClockEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { LD_PRELOAD: _preload, FAKETIME: _faketime, ...rest } = env;
  return rest;
}
