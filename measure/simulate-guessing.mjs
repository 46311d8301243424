// The long-term guessing bound, measured on the real limit code: the test
// build of the worker runs in workerd (Miniflare) with its local D1 and KV,
// and an attacker who knows only the victim's address plays the best strategy
// we know against it for a simulated year, the clock moved forward through
// the test build's X-Test-Now-Ms header instead of waiting.
//
// The strategy: every request from a network of its own (so no per-network
// limit ever bites), always two usable codes pending (each guess is then
// checked against two codes), guess until refused, wait exactly as long as
// the answer says (Retry-After), and when a challenge is asked for, never
// solve it: wait an hour and try again.
//
// It prints, with and without Turnstile configured: guesses the service
// counted, and the probability that one of them was right
// (1 - Π(1 - k/10^6), k = the usable codes a guess was checked against).
// Exit code 1 when a figure is above its bound (1 % a year with Turnstile,
// 10.8 % without: what the service allowed before these limits).
//
//   npm run simulate                  a year each (a few minutes)
//   SIM_DAYS=30 npm run simulate      shorter; figures are scaled to a year
import { spawnApp } from "../harness/app.mjs";
import { startTurnstileStub, TURNSTILE_SECRET } from "../harness/turnstile_stub.mjs";

const DAYS = Number(process.env.SIM_DAYS ?? 365);
const DAY = 86_400_000;
const CODE_SPACE = 10 ** 6;
const BOUNDS = { turnstile: 0.01, none: 0.108 };
// The production defaults (wrangler.toml), not the tests' relaxed ones.
const DEFAULTS = {
  OTP_RESEND_COOLDOWN_SECONDS: "30",
  OTP_SENDS_PER_HOUR: "5",
  OTP_ADDRESS_SENDS_PER_HOUR: "15",
  LOGIN_FAILURES_BEFORE_LOCKOUT: "10",
  LOGIN_LOCKOUT_SECONDS: "900",
  LOGIN_DAILY_FAILURE_BUDGET: "15",
  OTP_MAX_ATTEMPTS: "5",
};
// Every request comes from another network: the per-network flood limits
// (a location-local count in production) are not what this measures.
const OPEN_FLOODGATES = {
  IP_SEND_LIMITER: { simple: { limit: 1_000_000, period: 60 } },
  IP_VERIFY_LIMITER: { simple: { limit: 1_000_000, period: 60 } },
  BLOCK_SEND_LIMITER: { simple: { limit: 1_000_000, period: 60 } },
  BLOCK_VERIFY_LIMITER: { simple: { limit: 1_000_000, period: 60 } },
  MAIL_CEILING: { simple: { limit: 1_000_000, period: 60 } },
};

async function simulate(withTurnstile) {
  const turnstile = withTurnstile ? await startTurnstileStub() : null;
  const app = await spawnApp({
    vars: {
      ...DEFAULTS,
      ...(turnstile ? { TURNSTILE_SECRET_KEY: TURNSTILE_SECRET, TURNSTILE_VERIFY_URL: turnstile.url } : {}),
    },
    ratelimits: OPEN_FLOODGATES,
  });
  const victim = "victim@example.com";
  const start = Date.UTC(2027, 0, 1);
  const end = start + DAYS * DAY;
  let now = start;
  let network = 0;
  const from = () => {
    network += 1;
    return {
      "cf-connecting-ip": `10.${(network >> 16) & 255}.${(network >> 8) & 255}.${network & 255}`,
      "x-test-now-ms": String(now),
    };
  };
  const usable = async () =>
    (
      await app.db
        .prepare("SELECT count(*) AS n FROM otp_codes WHERE email = ? AND consumed_by IS NULL AND expires_at > ? AND attempts < 5")
        .bind(victim, now)
        .first()
    ).n;
  const stats = { counted: 0, weighted: 0, survive: 1, sends: 0, challenges: 0, locks: 0, requests: 0 };
  const waitFor = (res) => {
    const retry = Number(res.headers.get("retry-after") ?? 0);
    now += Math.max(1, retry) * 1000;
  };
  try {
    while (now < end) {
      // Keep two codes pending, so every guess is checked against two.
      if ((await usable()) < 2) {
        const sent = await app.sendOtp(victim, {}, from());
        stats.requests += 1;
        if (sent.status === 200) {
          stats.sends += 1;
          now += 1000;
          continue;
        }
        if (sent.status === 403) {
          stats.challenges += 1;
          // No challenge is solved. Guess on whatever is still usable first.
          if ((await usable()) === 0) {
            now += 3_600_000;
            continue;
          }
        } else if (sent.status === 429) {
          if ((await usable()) === 0) {
            waitFor(sent);
            continue;
          }
        } else {
          throw new Error(`send answered ${sent.status}: ${sent.text}`);
        }
      }
      const k = await usable();
      const res = await app.verifyOtp(victim, "000000", from());
      stats.requests += 1;
      now += 1000;
      if (res.status === 400) {
        stats.counted += 1;
        stats.weighted += k;
        stats.survive *= 1 - k / CODE_SPACE;
      } else if (res.status === 429 && /locked/.test(res.body?.errors?.[0] ?? "")) {
        stats.locks += 1;
        waitFor(res);
      } else if (res.status === 200) {
        throw new Error("the guess 000000 was right: rerun (one in a million)");
      } else if (![404, 429].includes(res.status)) {
        throw new Error(`verify answered ${res.status}: ${res.text}`);
      }
    }
  } finally {
    await app.dispose();
    await turnstile?.close();
  }
  const years = DAYS / 365;
  const perYear = 1 - stats.survive ** (1 / years);
  return { ...stats, days: DAYS, guessesPerDay: stats.counted / DAYS, weightedPerDay: stats.weighted / DAYS, perYear };
}

const results = {};
for (const [name, withTurnstile] of [["turnstile", true], ["none", false]]) {
  const started = Date.now();
  results[name] = await simulate(withTurnstile);
  const r = results[name];
  console.log(
    `${name === "turnstile" ? "with Turnstile   " : "without Turnstile"}: ` +
      `${r.counted} counted guesses in ${r.days} days (${r.guessesPerDay.toFixed(1)}/day, ` +
      `${r.weightedPerDay.toFixed(1)} code-checks/day), ${r.sends} codes sent, ${r.challenges} challenges refused, ` +
      `${r.locks} lockouts; P(success in a year) = ${(100 * r.perYear).toFixed(3)} % ` +
      `(bound ${(100 * BOUNDS[name]).toFixed(1)} %) [${r.requests} requests, ${((Date.now() - started) / 1000).toFixed(0)} s]`,
  );
}
const over = Object.entries(results).filter(([name, r]) => r.perYear > BOUNDS[name]);
if (over.length) {
  console.error(`above the bound: ${over.map(([n]) => n).join(", ")}`);
  process.exit(1);
}
