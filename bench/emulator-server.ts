/**
 * The Toloka emulator in a process of its own, so that the measured handler does not share its
 * event loop with the server: without the rate limit (the warm loops send hundreds of requests a
 * second), or with Toloka's per-account limit when a second argument gives it (the burst).
 * Prints `listening on <origin>`; stops on SIGTERM. Configured over `/_emulator`.
 */
import { TolokaEmulator } from '../emulator/toloka-emulator.ts';

const token = process.argv[2];
const rateLimit = process.argv[3] === undefined ? Number.POSITIVE_INFINITY : Number(process.argv[3]);
if (token === undefined || token === '' || !(rateLimit > 0)) {
  process.stderr.write('usage: emulator-server.ts <token> [requests per second]\n');
  process.exit(2);
}
const emulator = new TolokaEmulator({ tokens: [token], rateLimitPerSecond: rateLimit });
const origin = await emulator.start();
process.stdout.write(`listening on ${origin}\n`);
process.once('SIGTERM', () => {
  emulator.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
