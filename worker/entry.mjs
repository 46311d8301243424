// The module wrangler deploys. It wraps the Rust worker that worker-build emits
// (build/worker/shim.mjs) for one reason: when the Wasm code panics or throws,
// workerd would answer with a bare text 500. Here that becomes a 500 in the
// API's envelope; the shim has already marked the instance for re-creation, so
// the next request is served normally.
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
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" },
  });
}

export default class AllmineAuth extends WorkerEntrypoint {
  async fetch(request) {
    try {
      return await new RustWorker(this.ctx, this.env).fetch(request);
    } catch (error) {
      console.error(JSON.stringify({ event: "unhandled", message: String(error?.message ?? error) }));
      return internalError();
    }
  }

  async scheduled(controller) {
    return new RustWorker(this.ctx, this.env).scheduled(controller);
  }
}
