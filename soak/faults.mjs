// Fault injectors for the soak's fault phase. Each one names the worker vars it
// needs at start-up, how to start and stop the fault while traffic flows, and
// which failure statuses are honest answers while it lasts (per endpoint).
// Every other answer must stay what it is without faults; all stay envelopes.
//
// Adding one: give it `vars` (and `env` for the build), `start`, `stop` and
// `allowed` ("*" for any endpoint), then name it in SOAK_FAULTS (comma-separated).

const SEND = "POST /auth/send-otp-email";

async function setRates(base, rates) {
  const res = await fetch(`${base}/__faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(rates),
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`POST /__faults answered ${res.status} (a build without fault injection?): ${text.slice(0, 200)}`);
  }
}

export const FAULTS = {
  /**
   * The email provider fails a share of calls with a 5xx and lets another share
   * hang past the worker's EMAIL_TIMEOUT_MS. A send must then answer 502/503 and
   * store no code; everything else is untouched.
   */
  mail: {
    vars: { EMAIL_TIMEOUT_MS: "500" },
    allowed: { [SEND]: [502, 503] },
    async start({ mail }) {
      mail.failShare({ share: 0.25, status: 500, hangShare: 0.1 });
    },
    async stop({ mail }) {
      mail.failShare(null);
    },
  },

  /**
   * D1 and KV failures while traffic flows, through the worker's test-only fault
   * API (`POST /__faults` with the share of calls that fail, SOAK_STORAGE_FAULT_RATE,
   * 0.08 of D1 and of KV calls; compiled only into
   * the test build, WORKER_FEATURES=fault-injection). Any endpoint may then
   * answer the 500 envelope (the health check 503); a client cannot know whether
   * such a request took effect, so the soak counts those outcomes as uncertain
   * and the ledger checks allow exactly that much, no more. That nothing was
   * half-written is checked exactly: no user without a session, no session
   * without a user, no code over its attempts.
   */
  storage: {
    vars: {},
    env: { WORKER_FEATURES: "fault-injection" },
    allowed: { "*": [500], "GET /health": [503] },
    async start({ base }) {
      const share = Number(process.env.SOAK_STORAGE_FAULT_RATE ?? 0.08);
      await setRates(base, { d1: share, kv: share });
    },
    async stop({ base }) {
      await setRates(base, {});
    },
  },
};

export function faultsNamed(spec) {
  if (!spec) return [];
  return spec.split(",").map((name) => {
    const f = FAULTS[name.trim()];
    if (!f) throw new Error(`unknown fault "${name}" (known: ${Object.keys(FAULTS).join(", ")})`);
    return { name: name.trim(), ...f };
  });
}
