// The module wrangler deploys. It wraps the Rust worker that worker-build emits
// (build/worker/shim.mjs) for one reason: when the Wasm code panics, workerd would
// answer with a bare text 500, or, for a panic inside an async handler, wait for
// a response that never comes. Here both become a 500 in the API's envelope; the
// shim has already marked the instance for re-creation, so the next request is
// served normally.
import { WorkerEntrypoint } from "cloudflare:workers";
import RustWorker from "../build/worker/shim.mjs";

function internalError() {
  const body = {
    isSuccess: false,
    statusCode: 500,
    data: null,
    errors: ["Internal server error"],
    timestamp: new Date().toISOString(),
  };
  return new Response(JSON.stringify(body), {
    status: 500,
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", "Error-Code": "internal" },
  });
}

// A panic in a future traps inside a microtask: the request's promise never
// settles, and the trap surfaces only as a global "error" event. The instance is
// dead at that point, so every request in flight on it is failed.
const inFlight = new Set();
addEventListener("error", (event) => {
  if (event.error instanceof WebAssembly.RuntimeError) {
    for (const fail of inFlight) fail(event.error);
  }
});

export default class AllmineAuth extends WorkerEntrypoint {
  async fetch(request) {
    let fail;
    const trapped = new Promise((_, reject) => (fail = reject));
    inFlight.add(fail);
    try {
      return await Promise.race([new RustWorker(this.ctx, this.env).fetch(request), trapped]);
    } catch (error) {
      console.error(JSON.stringify({ event: "unhandled", message: String(error?.message ?? error) }));
      return internalError();
    } finally {
      inFlight.delete(fail);
    }
  }

  async scheduled(controller) {
    return new RustWorker(this.ctx, this.env).scheduled(controller);
  }

  // The EVENTS queue's consumer (webhook delivery). A panic here fails the
  // batch, which the queue retries as it would a failed delivery.
  async queue(batch) {
    return new RustWorker(this.ctx, this.env).queue(batch);
  }
}
