// The legitimate population of the attack soak: users who sign in (send, read
// the code from their mailbox, type it in, verify), refresh and sign out, again
// and again, each from networks of their own, keeping to the rules a client
// can know: the resend cooldown and the hourly sends per address and network
// (per address too), counted by the client itself. Asked for a challenge, a
// user solves it (a token from the Turnstile stand-in) and sends again with it.
//
// A cycle is a success when all four steps answered 200. Any other answer is
// a refusal of a user who followed the rules, recorded with its cause; a
// request lost by wrangler dev's proxy leaves the cycle's outcome unknown.
import { codeIn } from "../harness/resend_stub.mjs";
import { SOLVED_TOKEN } from "../harness/turnstile_stub.mjs";
import { Interrupted, LostByDevProxy, LOGOUT, REFRESH, SEND, VERIFY } from "./traffic.mjs";

export const NETWORKS_PER_USER = 3; // home, mobile, work
const HOUR_MS = 3_600_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The answer's cause, as a refusal is reported: `send 429 hourly_cap`. */
export function causeOf(step, res) {
  return `${step} ${res.status} ${res.headers.get("error-code") ?? "(no Error-Code)"}`;
}

function newWindow() {
  return { ended: 0, ok: 0, unknown: 0, challenges: 0, ambiguousMail: 0, refused: new Map(), ops: { send: 0, verify: 0, refresh: 0, logout: 0 } };
}

/** One legitimate user's networks: `198.18.0.0/15`, one /24 per user, kept apart from the attacker's. */
function networksOf(i) {
  return Array.from({ length: NETWORKS_PER_USER }, (_, j) => ({ ip: `198.${18 + (i >> 8)}.${i & 255}.${j + 1}`, sends: [] }));
}

export class Legit {
  /**
   * @param {object} o
   * @param {import("./traffic.mjs").World} o.world  its requests, metrics and envelope checks
   * @param {object} o.mail       the Resend stand-in (its `sent` list keeps every mail of the run)
   * @param {object} o.limits     { cooldownSeconds, sendsPerHour, addressSendsPerHour }
   * @param {number} o.users      how many users
   * @param {string} o.runId
   * @param {number} o.typingMs   how long a user takes to type a code in (on average)
   * @param {number} [o.first]    the first user's number (users of two populations never share a network)
   * @param {(step: string) => Promise<void>} [o.afterStep]  awaited after each step that answered 200
   */
  constructor({ world, mail, limits, users, runId, typingMs, first = 0, afterStep }) {
    Object.assign(this, { world, mail, limits, runId, typingMs, afterStep });
    this.users = Array.from({ length: users }, (_, k) => ({
      email: `user-${runId}-${first + k}@example.com`,
      networks: networksOf(first + k),
      busy: false,
      lastStart: 0,
    }));
    /** address → the code its user is about to type (what strangers' guesses must not hit by luck). */
    this.pending = new Map();
    this.window = newWindow();
    this.total = newWindow();
    this.noUserFree = 0;
  }

  get addresses() {
    return this.users.map((u) => u.email);
  }

  /** The window's figures; a new window starts. */
  cut() {
    const w = this.window;
    this.window = newWindow();
    return w;
  }

  /** A network of `user` the rules let it send from now, or undefined. */
  networkFor(user, now) {
    const hourAgo = now - HOUR_MS;
    let sentByAddress = 0;
    for (const n of user.networks) {
      n.sends = n.sends.filter((t) => t > hourAgo);
      sentByAddress += n.sends.length;
    }
    if (sentByAddress >= this.limits.addressSendsPerHour) return undefined;
    const cooldownMs = (this.limits.cooldownSeconds + 1) * 1000;
    return user.networks
      .filter((n) => n.sends.length < this.limits.sendsPerHour && now - (n.sends.at(-1) ?? 0) >= cooldownMs)
      .sort((a, b) => (a.sends.at(-1) ?? 0) - (b.sends.at(-1) ?? 0))[0];
  }

  /**
   * Starts one sign-in cycle for the user who signed in longest ago and may
   * send now; undefined when none may (counted: the pool is too small for the rate).
   */
  startOne() {
    const now = Date.now();
    for (const user of [...this.users].sort((a, b) => a.lastStart - b.lastStart)) {
      if (user.busy) continue;
      const network = this.networkFor(user, now);
      if (!network) continue;
      user.busy = true;
      user.lastStart = now;
      return this.cycle(user, network);
    }
    this.noUserFree++;
    return undefined;
  }

  record(outcome, cause) {
    for (const w of [this.window, this.total]) {
      w.ended++;
      if (outcome === "ok") w.ok++;
      else if (outcome === "unknown") w.unknown++;
      else w.refused.set(cause, (w.refused.get(cause) ?? 0) + 1);
    }
  }

  count(key) {
    for (const w of [this.window, this.total]) {
      if (key in w.ops) w.ops[key]++;
      else w[key]++;
    }
  }

  /** A step answered 200. */
  async done(step) {
    this.count(step);
    await this.afterStep?.(step);
  }

  /** The code mailed for the send that ran from `startedAt` to now: the newest mail to the address since. */
  codeSince(email, startedAt) {
    const mails = [];
    for (let i = this.mail.sent.length - 1; i >= 0; i--) {
      const m = this.mail.sent[i];
      if (m.at < startedAt) break;
      if (m.to.includes(email) && m.outcome === "delivered") mails.push(m);
    }
    // Two mails to one address within one send: a stranger's send to it was admitted
    // meanwhile, and the user cannot tell which is theirs; any usable code signs in.
    if (mails.length > 1) this.count("ambiguousMail");
    return mails.length ? codeIn(mails[0]) : undefined;
  }

  async cycle(user, network) {
    const { world } = this;
    const { email } = user;
    const ip = network.ip;
    const send = (body) => {
      network.sends.push(Date.now());
      return world.call("POST", SEND, { body, ip });
    };
    try {
      const sentAt = Date.now();
      let res = await send({ email });
      if (res.status === 403 && res.headers.get("error-code") === "challenge_required") {
        this.count("challenges");
        res = await send({ email, turnstileToken: SOLVED_TOKEN });
      }
      if (res.status !== 200) return this.record("refused", causeOf("send", res));
      await this.done("send");
      const code = this.codeSince(email, sentAt);
      if (!code) return this.record("refused", "send 200 but no mail arrived");
      const loginId = res.body?.data?.loginId;
      this.pending.set(email, code);
      await sleep(this.typingMs * (0.5 + Math.random()));
      const verified = await world.call("POST", VERIFY, { body: { email, code, ...(loginId ? { loginId } : {}) }, ip });
      this.pending.delete(email);
      if (verified.status !== 200) return this.record("refused", causeOf("verify", verified));
      await this.done("verify");
      const { refreshToken } = verified.body.data;
      const refreshed = await world.call("POST", REFRESH, { body: { refreshToken }, ip });
      if (refreshed.status !== 200) return this.record("refused", causeOf("refresh", refreshed));
      await this.done("refresh");
      const tokens = refreshed.body.data;
      const out = await world.call("POST", LOGOUT, { body: { refreshToken: tokens.refreshToken }, token: tokens.accessToken, ip });
      if (out.status !== 200) return this.record("refused", causeOf("logout", out));
      await this.done("logout");
      this.record("ok");
    } catch (err) {
      if (err instanceof LostByDevProxy) this.record("unknown");
      else if (err instanceof Interrupted) this.record("refused", `no answer: ${err.message}`);
      else this.record("refused", `client exception: ${err.stack ?? err}`);
    } finally {
      this.pending.delete(email);
      user.busy = false;
    }
  }
}
