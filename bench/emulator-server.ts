/**
 * The Toloka emulator in a process of its own, without the rate limit (the warm loops send hundreds
 * of requests a second), so that the measured handler does not share its event loop with the
 * server. Prints `listening on <origin>`; stops on SIGTERM. Configured over `/_emulator`.
 */
import { TolokaEmulator } from '../emulator/toloka-emulator.ts';

const token = process.argv[2];
if (token === undefined || token === '') {
  process.stderr.write('usage: emulator-server.ts <token>\n');
  process.exit(2);
}
const emulator = new TolokaEmulator({ tokens: [token], rateLimitPerSecond: Number.POSITIVE_INFINITY });
const origin = await emulator.start();
process.stdout.write(`listening on ${origin}\n`);
process.once('SIGTERM', () => {
  emulator.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
