// Free local ports, for everything the harness starts on loopback (wrangler dev,
// its inspector, stand-ins that need a known port), so that runs side by side
// (two checkouts, a developer's `npm run dev` on 8787) never collide.
import { createServer } from "node:net";

/** A port nothing listens on now (the OS picks it). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// `node harness/ports.mjs` prints one, for shell scripts (scripts/fuzz-api.sh).
if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  console.log(await freePort());
}
