// Fault injectors for the soak's fault phase. Each one names the worker vars it
// needs at start-up, how to start and stop the fault while traffic flows, and
// which failure statuses are honest answers while it lasts (per endpoint).
// Every other answer must stay what it is without faults; all stay envelopes.
//
// Adding one (e.g. D1 or KV failures): give it `vars`, `start`, `stop`,
// `allowed` and, if it leaves state to check afterwards, `verifyAfter`; then
// name it in SOAK_FAULTS. See "storage" below.

const SEND = "POST /auth/send-otp-email";

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
   * D1 / KV failures while traffic flows. Needs the worker's test-only fault API
   * (`/__faults`, compiled into test builds only), which this branch does not
   * have yet: when it lands, `start` asks it to fail a share of storage calls,
   * `stop` clears it, and `allowed` lists the 500/503 answers that are honest.
   * The ledger checks at the end then prove that a failed write left nothing
   * half-written (a login is one D1 batch).
   */
  storage: {
    vars: { FAULT_INJECTION: "1" },
    allowed: {},
    async start({ base }) {
      const res = await fetch(`${base}/__faults/storage`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      await res.arrayBuffer();
      throw new Error(
        `storage faults need the worker's /__faults storage API (answered ${res.status}); ` +
          "it is not in this build yet: use SOAK_FAULTS=mail",
      );
    },
    async stop() {},
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
