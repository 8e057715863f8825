/**
 * The package's library face (`import { TolokaPoolOpener } from 'toloka-pool-opener'`): the
 * construct and its props, the deployable stack, and the configuration loader the app uses.
 * `npm run build` compiles this file into `dist/lib/` (scripts/build.ts).
 */
export {
  type AppConfig,
  type ConfigOptions,
  InvalidConfigurationError,
  loadConfig,
  type PollConfig,
  type PoolConfig,
  parseConfig,
  type ScheduleConfig,
  toOpenerProps,
} from './config.ts';
export * from './toloka-pool-opener.ts';
export {
  stackIdOf,
  TolokaPoolOpenerStack,
  type TolokaPoolOpenerStackProps,
} from './toloka-pool-opener-stack.ts';
