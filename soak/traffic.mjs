// The soak's traffic: a mix of what real clients do, driven at a set rate, with
// the client's own record of what it was told (logins, logouts, revocations),
// which the ledger checks compare with the database at the end.
//
// Clients hold resources exclusively while they use them: a pending code (an
// address between send and verify) or a session (its tokens). Nothing is raced
// by accident; the races (verifies of one code, refreshes of one token) are
// deliberate and counted.
import { assertEnvelope } from "../harness/envelope.mjs";
import { codeIn } from "../harness/resend_stub.mjs";
import { isDevProxyLoss } from "../harness/devserver.mjs";

export const SEND = "/api/v1/auth/send-otp-email";
// How `call` names a send in its keys and counts.
const SEND_KEY = `POST ${SEND.replace("/api/v1", "")}`;
export const VERIFY = "/api/v1/auth/verify-otp-email";
export const REFRESH = "/api/v1/auth/refresh-token";
export const LOGOUT = "/api/v1/auth/logout";
export const ME = "/api/v1/users/me";
export const DELETION = "/api/v1/users/me/deletion";

/** A request that got no answer (connection refused or reset, timeout). */
export class Interrupted extends Error {}

/**
 * A request wrangler dev's own proxy lost on its way to the worker
 * (`isDevProxyLoss`): no answer from the service, outcome unknown. Counted,
 * and bounded by a check, rather than failed one by one.
 */
export class LostByDevProxy extends Interrupted {}

/** The op mix, by weight. Ops needing a code or a session fall back to a send. */
export const MIX = {
  send: 16,
  verifyRight: 9,
  verifyWrongThenRight: 3,
  verifyRace: 2,
  verifyExhaust: 1,
  resend: 1,
  me: 24,
  patchMe: 8,
  refresh: 10,
  refreshRace: 2,
  logout: 5,
  deletion: 0.6,
};
const NEEDS_CODE = new Set(["verifyRight", "verifyWrongThenRight", "verifyRace", "verifyExhaust", "resend"]);
const NEEDS_SESSION = new Set(["me", "patchMe", "refresh", "refreshRace", "logout", "deletion"]);

// The worker's MAIL_CEILING (wrangler.toml): 300 code mails a minute per
// location. Clients here keep to 80% of it, as a fleet that reads Retry-After
// would; a send held back becomes a profile read.
const SENDS_PER_SECOND = (300 * 0.8) / 60;
const PENDING_STALE_MS = 200_000; // codes live 300 s; a user who waits longer gave up
const SESSION_TARGET = 100; // sessions held by the clients, roughly
const ACCESS_REFRESH_MS = 45 * 60_000; // access tokens live an hour
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const randomInt = (n) => Math.floor(Math.random() * n);

/** The user id (`sub`) of a token; the API's user object carries none. */
export function subjectOf(token) {
  try {
    return JSON.parse(Buffer.from(String(token).split(".")[1], "base64url").toString()).sub;
  } catch {
    return undefined;
  }
}

function envelopeProblem(res) {
  try {
    assertEnvelope(res, res.status);
    return null;
  } catch (err) {
    return err.message.split("\n")[0];
  }
}

export class World {
  constructor({ base, mail, metrics, maxAttempts, codeLength, runId, mailDeadlineMs = 10_000 }) {
    Object.assign(this, { base, mail, metrics, maxAttempts, codeLength, runId, mailDeadlineMs });
    this.pending = []; // { email, code, at, wrong }
    this.sessions = []; // { email, userId, accessToken, refreshToken, accessAt }
    this.busy = new Set(); // addresses with a send or a pending code
    this.users = new Map(); // email -> { id, logins }
    this.knownEmails = [];
    this.deletionState = new Map(); // email -> "pending" | "cancelled"
    this.deletionBusy = new Set();
    this.deletionUncertain = new Set(); // a fault hid whether the change was made
    this.failedFresh = []; // { email, code }: the only send to the address failed
    this.uncertainLogins = new Map(); // email -> verifies interrupted without an answer
    this.uncertain = { logouts: 0, reuse: 0 };
    this.counts = {
      ops: 0, sends: 0, logins: 0, wrongCodes: 0, races: 0, replays: 0, exhausted: 0, resends: 0,
      refreshes: 0, refreshRaces: 0, raceBothOk: 0, raceOneOk: 0, raceSurvived: 0, raceRevoked: 0,
      meReads: 0, patches: 0, logouts: 0, deletionsScheduled: 0, deletionsCancelled: 0,
      failedSends: 0, failedResends: 0, earlierCodeKept: 0, resendsUnknown: 0, earlierCodeLost: 0, olderCodeUsed: 0, abandoned: 0, interrupted: 0,
      lostByDevProxy: 0,
      faultAnswers: 0, sendsHeldBack: 0, mailCeiling: 0, idle: 0,
    };
    this.failures = new Map(); // kind -> { count, examples }
    this.refused = 0;
    this.refusedEnveloped = 0;
    this.started = 0; // requests started
    this.inflight = 0; // ops running
    this.allowed = {}; // "POST /auth/x" (or "*") -> statuses the faults on make honest
    this.down = false; // the server is being restarted on purpose
    this.seq = 0;
    this.ip = 0;
    this.sendTokens = 10;
    this.sendRefilled = performance.now();
  }

  /** A send within the mail ceiling, or false (the caller does something else). */
  mayMail() {
    const now = performance.now();
    this.sendTokens = Math.min(10, this.sendTokens + ((now - this.sendRefilled) / 1000) * SENDS_PER_SECOND);
    this.sendRefilled = now;
    if (this.sendTokens < 1) {
      this.counts.sendsHeldBack++;
      return false;
    }
    this.sendTokens -= 1;
    return true;
  }

  /** What a client does instead of a send the mail ceiling holds back. */
  async instead() {
    if (this.sessions.length) return this.me();
    if (this.pending.length) return this.verifyRight();
    await sleep(50);
  }

  // ---- bookkeeping -------------------------------------------------------

  fail(kind, message) {
    let f = this.failures.get(kind);
    if (!f) this.failures.set(kind, (f = { count: 0, examples: [] }));
    f.count++;
    if (f.examples.length < 5) f.examples.push(message);
  }

  failureCount() {
    let n = 0;
    for (const f of this.failures.values()) n += f.count;
    return n;
  }

  unexpected(what, res) {
    if (this.faulted(res)) return;
    this.fail("unexpected status", `${what}: ${res.status} ${res.text.slice(0, 160)}`);
  }

  /** Whether `status` is honest for `key` under the faults in `allowed`. */
  /**
   * A verify that says no code of the address can be used: none pending
   * (404), or only codes whose attempts are spent (429 too_many_attempts: an
   * address the soak signed into before may keep a code it exhausted until
   * that code expires). Either way the code typed did not log in.
   */
  static noUsableCode(res) {
    return res.status === 404 || (res.status === 429 && res.headers.get("error-code") === "too_many_attempts");
  }

  static honest(allowed, key, status) {
    return [...(allowed[key] ?? []), ...(allowed["*"] ?? [])].includes(status);
  }

  /** An answer a fault made honest (counted); the op stops, its outcome unknown. */
  faulted(res) {
    if (!res.faultHonest) return false;
    this.counts.faultAnswers++;
    return true;
  }

  /** The faults on from now: a request sent while they are on may honestly fail. */
  setAllowed(allowed) {
    this.allowed = allowed;
  }

  nextIp() {
    // A distinct client IP per request, so the per-IP flood limits stay out of the way.
    this.ip = (this.ip + 1) % 60_000;
    return `10.${this.ip >> 8}.${this.ip & 255}.${1 + (this.seq % 250)}`;
  }

  freshEmail() {
    return `soak-${this.runId}-${++this.seq}@example.com`;
  }

  wrongCode(right) {
    for (;;) {
      const code = String(randomInt(10 ** this.codeLength)).padStart(this.codeLength, "0");
      if (code !== right) return code;
    }
  }

  // ---- HTTP --------------------------------------------------------------

  /** One request; from `ip` (a client's own network), else a fresh address each time (`nextIp`). */
  async call(method, path, { body, token, ip } = {}) {
    const key = `${method} ${path.replace("/api/v1", "")}`;
    if (this.down) throw new Interrupted(`${key}: the server is restarting`);
    this.started++;
    const faultsAtSend = this.allowed;
    const headers = { "cf-connecting-ip": ip ?? this.nextIp() };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token) headers.authorization = `Bearer ${token}`;
    const t0 = performance.now();
    const wallStart = Date.now();
    let res;
    let text;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      text = await res.text();
    } catch (err) {
      this.metrics.record(key, "ERR", performance.now() - t0);
      throw new Interrupted(`${key}: ${err.cause?.code ?? err.name ?? err.message}`);
    }
    this.metrics.record(key, res.status, performance.now() - t0);
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // envelopeProblem reports it
    }
    const answer = {
      key,
      status: res.status,
      headers: res.headers,
      body: json,
      text,
      // Honest if a fault was on when it was sent or is on now, or if the mail
      // provider really was too slow (a busy machine stalls the stand-in too).
      faultHonest:
        World.honest(faultsAtSend, key, res.status) ||
        World.honest(this.allowed, key, res.status) ||
        (key === SEND_KEY && res.status === 503 && this.mailTooSlow(body?.email, wallStart, performance.now() - t0)),
    };
    if (isDevProxyLoss(res.status, res.headers, text) && !this.down) {
      this.counts.lostByDevProxy++;
      throw new LostByDevProxy(`${key}: lost by wrangler dev's proxy (${res.status} ${text.slice(0, 40)}…)`);
    }
    const problem = envelopeProblem(answer);
    if (problem && this.down) {
      // Cut off by the deliberate stop: wrangler's proxy answers requests in
      // flight with its own plain-text 503 ("Your worker restarted mid-request").
      throw new Interrupted(`${key}: cut off by the stop (${res.status} ${text.slice(0, 60)})`);
    }
    if (res.status >= 400) {
      this.refused++;
      if (!problem) this.refusedEnveloped++;
    }
    if (problem) this.fail("envelope", `${key} ${res.status}: ${problem}`);
    if (res.status >= 500 && !answer.faultHonest) {
      this.fail("5xx", `${key} ${res.status}: ${text.slice(0, 200)}`);
    }
    return answer;
  }

  /**
   * Whether a send's 503 is the provider's slowness: the worker did call the
   * provider for this address (the stand-in received it after the request was
   * sent) and the answer took at least the worker's deadline. On a busy
   * machine the stand-in, which shares the soak's event loop, can be slow
   * without a fault; a worker that never called it is still caught.
   */
  mailTooSlow(email, sentAt, tookMs) {
    const mail = email && this.mail.lastMailTo(email);
    return !!mail && mail.at >= sentAt && tookMs >= this.mailDeadlineMs;
  }

  /** A verify; one interrupted without an answer may or may not have logged in. */
  async verify(email, code) {
    try {
      const res = await this.call("POST", VERIFY, { body: { email, code } });
      if (res.status >= 500 && res.faultHonest) {
        this.uncertainLogins.set(email, (this.uncertainLogins.get(email) ?? 0) + 1);
      }
      return res;
    } catch (err) {
      if (err instanceof Interrupted) {
        this.uncertainLogins.set(email, (this.uncertainLogins.get(email) ?? 0) + 1);
      }
      throw err;
    }
  }

  loginOk(email, res) {
    const data = res.body?.data;
    const id = subjectOf(data?.accessToken);
    if (!id || subjectOf(data.refreshToken) !== id || data.user?.email !== email) {
      this.fail("login answer", `${email}: verify 200 without a matching token pair and user: ${res.text.slice(0, 120)}`);
    }
    const user = this.users.get(email);
    if (!user) {
      this.users.set(email, { id, logins: 1 });
      this.knownEmails.push(email);
    } else {
      if (user.id !== id) this.fail("one user per address", `${email}: ${user.id} then ${id}`);
      user.logins++;
    }
    this.counts.logins++;
    this.sessions.push({
      email,
      userId: id,
      accessToken: data.accessToken,
      refreshToken: data.refreshToken,
      accessAt: Date.now(),
    });
  }

  // ---- resources ---------------------------------------------------------

  takePending() {
    while (this.pending.length && Date.now() - this.pending[0].at > PENDING_STALE_MS) {
      this.busy.delete(this.pending.shift().email);
      this.counts.abandoned++;
    }
    return this.pending.shift();
  }

  takeSession() {
    if (this.sessions.length === 0) return undefined;
    const i = randomInt(this.sessions.length);
    const s = this.sessions[i];
    this.sessions[i] = this.sessions[this.sessions.length - 1];
    this.sessions.pop();
    return s;
  }

  sendAddress() {
    if (Math.random() < 0.35 && this.knownEmails.length > 0) {
      for (let tries = 0; tries < 5; tries++) {
        const email = this.knownEmails[randomInt(this.knownEmails.length)];
        if (!this.busy.has(email) && this.deletionState.get(email) !== "pending") return email;
      }
    }
    return this.freshEmail();
  }

  // ---- ops ---------------------------------------------------------------

  pickOp() {
    // Ops that end sessions are weighed by how many sessions clients hold, so
    // the pool settles where logins (bounded by the mail ceiling) replace them.
    const f = Math.min(2, Math.max(0.25, this.sessions.length / SESSION_TARGET));
    const weights = { ...MIX, refreshRace: MIX.refreshRace * f, logout: MIX.logout * f, deletion: MIX.deletion * f };
    let total = 0;
    for (const w of Object.values(weights)) total += w;
    let r = Math.random() * total;
    let op = "send";
    for (const [name, w] of Object.entries(weights)) {
      if ((r -= w) < 0) {
        op = name;
        break;
      }
    }
    if (NEEDS_CODE.has(op) && this.pending.length === 0) op = "send";
    if (NEEDS_SESSION.has(op) && this.sessions.length === 0) op = this.pending.length ? "verifyRight" : "send";
    if (op === "send" && this.pending.length > 200) op = "verifyRight";
    // While a fault is on, more resends: a failed one must keep the earlier code.
    if (op === "send" && Object.keys(this.allowed).length && this.pending.length && Math.random() < 0.3) op = "resend";
    return op;
  }

  /**
   * Runs one op; an interruption is a failure unless the server is down on
   * purpose or wrangler dev's proxy lost the request (counted, bounded at the end).
   */
  async run(op) {
    this.inflight++;
    this.counts.ops++;
    const startedBefore = this.started;
    try {
      await this[op]();
    } catch (err) {
      if (err instanceof Interrupted) {
        if (this.down) this.counts.interrupted++;
        else if (!(err instanceof LostByDevProxy)) this.fail("no answer", err.message);
      } else {
        this.fail("client exception", err.stack ?? String(err));
      }
    } finally {
      this.inflight--;
      if (this.started === startedBefore) {
        // Nothing to do (no session, no code, the mail ceiling reached): not an op.
        this.counts.ops--;
        this.counts.idle++;
      }
    }
  }

  async send() {
    if (!this.mayMail()) return this.instead();
    const email = this.sendAddress();
    this.busy.add(email);
    let pending = false;
    try {
      const res = await this.call("POST", SEND, { body: { email } });
      if (res.status === 200) {
        const mail = this.mail.lastMailTo(email);
        if (mail?.outcome !== "delivered") {
          return this.fail("mail", `send answered 200 but the provider's outcome was ${mail?.outcome}`);
        }
        this.pending.push({ email, code: codeIn(mail), at: Date.now(), wrong: 0 });
        pending = true;
        this.counts.sends++;
      } else if ((res.status === 502 || res.status === 503) && res.faultHonest) {
        await this.afterFailedSend(email, null, res);
      } else if (res.status === 429) {
        this.counts.mailCeiling++; // the service's own cost guard, in the envelope
      } else {
        this.unexpected("send", res);
      }
    } finally {
      if (!pending) this.busy.delete(email);
    }
  }

  /**
   * A send the provider failed. The provider saw the email and its code, the user
   * never got it: that code must not log in. Without an earlier code the address
   * has nothing pending (404); with one, the failed code is wrong (400) and the
   * earlier code stays the valid one.
   */
  async afterFailedSend(email, earlier, sendAnswer) {
    const mail = this.mail.lastMailTo(email);
    const code = mail && mail.outcome !== "delivered" ? codeIn(mail) : this.wrongCode(earlier?.code);
    if (earlier) this.counts.failedResends++;
    else this.counts.failedSends++;
    if (earlier && code === earlier.code) return; // one in a million: the same code drawn again
    const res = await this.verify(email, code);
    if (this.faulted(res)) {
      // Unknown for now: checked again once the faults are over.
      if (!earlier && !this.users.has(email) && this.failedFresh.length < 200) this.failedFresh.push({ email, code });
      return;
    }
    if (res.status === 200) {
      this.fail("failed mail's code", `${email}: the code of a failed email logged in (send answered ` +
        `${sendAnswer?.status} ${sendAnswer?.text.slice(0, 80)}; the provider's outcome: ${mail?.outcome}, ` +
        `${mail ? Date.now() - mail.at : "?"} ms before the verify)`);
      return this.loginOk(email, res);
    }
    if (earlier) {
      if (res.status !== 400) this.unexpected("verify with a failed resend's code (expected 400)", res);
      else earlier.wrong++;
    } else if (res.status !== 404 && !World.noUsableCode(res)) {
      this.fail("failed mail's code", `${email}: a failed send left a pending code (${res.status}, not 404: ` +
        `${res.text.slice(0, 120)}; send answered ${sendAnswer?.status}, the provider's outcome: ${mail?.outcome})`);
    } else if (!this.users.has(email) && this.failedFresh.length < 200) {
      this.failedFresh.push({ email, code });
    }
  }

  /**
   * A resend the provider failed: its code must be wrong, and the earlier code
   * `p.code` must still log in. Each failed resend ends as one of: confirmed
   * (`earlierCodeKept`), a wrong answer (`earlierCodeLost`, a failure), or
   * unknown (`resendsUnknown`): a follow-up answered under a storage fault, or
   * lost by wrangler dev's proxy, proves nothing either way.
   */
  async afterFailedResend(p, sendAnswer) {
    try {
      await this.afterFailedSend(p.email, p, sendAnswer);
      const v = await this.verify(p.email, p.code);
      if (this.faulted(v)) return void this.counts.resendsUnknown++;
      if (v.status !== 200) {
        this.counts.earlierCodeLost++;
        return this.fail("failed resend", `${p.email}: the earlier code answered ${v.status} after a failed resend`);
      }
      this.loginOk(p.email, v);
      this.counts.earlierCodeKept++;
    } catch (err) {
      if (err instanceof Interrupted) this.counts.resendsUnknown++;
      throw err;
    }
  }

  /**
   * After the faults, with the traffic drained and storage sound: one failed
   * resend provoked on purpose (the mail stand-in fails every call meanwhile),
   * so that the failed-resend check has a case no storage fault can leave
   * unknown. `allowed`: the honest statuses of the mail fault. `forgetEarlier`
   * (a self-test of the check): the client holds a wrong code as the earlier
   * one, as if the service had dropped it when the resend failed.
   */
  async provokeFailedResend(allowed, { forgetEarlier = false } = {}) {
    const [probe] = await this.prepareResendProbes(1);
    if (!probe) return;
    if (forgetEarlier) probe.code = this.wrongCode(probe.code);
    this.mail.failWith(500);
    this.setAllowed(allowed);
    try {
      await this.runResendProbes([probe], 1);
    } finally {
      this.mail.failWith(null);
      this.setAllowed({});
    }
  }

  /**
   * Send again while a code is pending ("resend code"). The code it replaces
   * stays usable (mail can be slow; the user may type the first): either code
   * logs in, and the login retires the other. If the resend's mail fails, the
   * earlier code is still the one that works.
   */
  async resend() {
    if (!this.mayMail()) return this.instead();
    const p = this.takePending();
    if (!p) return this.send();
    let keep = false;
    try {
      const res = await this.call("POST", SEND, { body: { email: p.email } });
      if (res.status === 200) {
        this.counts.resends++;
        const older = p.code;
        const newer = codeIn(this.mail.lastMailTo(p.email));
        if (older === newer) return; // one in a million: the same code drawn again
        const [typed, other] = Math.random() < 0.5 ? [older, newer] : [newer, older];
        const v = await this.verify(p.email, typed);
        if (v.status !== 200) return this.unexpected(`verify with the ${typed === older ? "replaced" : "new"} code after a resend`, v);
        this.loginOk(p.email, v);
        if (typed === older) this.counts.olderCodeUsed++;
        const again = await this.verify(p.email, other);
        if (again.status === 200) {
          this.fail("code used twice", `${p.email}: after a login the address's other code still logged in`);
          return this.loginOk(p.email, again);
        }
        if (again.status !== 404) this.unexpected("the other code after a login (expected 404)", again);
      } else if ((res.status === 502 || res.status === 503) && res.faultHonest) {
        await this.afterFailedResend(p, res);
      } else if (res.status === 429) {
        this.counts.mailCeiling++;
        keep = true;
        this.pending.push(p);
      } else {
        this.unexpected("resend", res);
      }
    } finally {
      if (!keep) this.busy.delete(p.email);
    }
  }

  /**
   * Codes held back from the traffic for the resend probes of a mail fault
   * phase: sent (and delivered) just before the faults start.
   */
  async prepareResendProbes(n) {
    const probes = [];
    for (let i = 0; i < n; i++) {
      const email = this.freshEmail();
      this.busy.add(email);
      let res;
      try {
        res = await this.call("POST", SEND, { body: { email } });
      } catch (err) {
        this.busy.delete(email);
        if (err instanceof LostByDevProxy) continue; // counted; one probe fewer
        throw err;
      }
      if (res.status === 200) probes.push({ email, code: codeIn(this.mail.lastMailTo(email)), at: Date.now(), wrong: 0 });
      else {
        this.busy.delete(email);
        this.unexpected("send before the faults", res);
      }
    }
    return probes;
  }

  /**
   * While the mail faults are on: each probe resends (up to `tries` times) until
   * a resend fails; then the failed email's code must be wrong (400) and the
   * newest delivered code must still log in. A resend that succeeds moves the
   * probe to the new code (the one before stays usable too).
   */
  async runResendProbes(probes, tries) {
    await Promise.all(
      probes.map(async (p) => {
        try {
          for (let i = 0; i < tries; i++) {
            const res = await this.call("POST", SEND, { body: { email: p.email } });
            if (res.status === 200) {
              p.code = codeIn(this.mail.lastMailTo(p.email));
              continue;
            }
            if ((res.status === 502 || res.status === 503) && res.faultHonest) {
              return await this.afterFailedResend(p, res);
            }
            return this.unexpected("a resend during the mail faults", res);
          }
          const v = await this.verify(p.email, p.code);
          if (v.status === 200) this.loginOk(p.email, v);
          else this.unexpected("a probe's code after its resends", v);
        } catch (err) {
          if (!(err instanceof Interrupted)) throw err;
          if (!(err instanceof LostByDevProxy)) this.fail("no answer", err.message); // else counted
        } finally {
          this.busy.delete(p.email);
        }
      }),
    );
  }

  async verifyRight() {
    const p = this.takePending();
    if (!p) return this.send();
    try {
      const res = await this.verify(p.email, p.code);
      if (res.status !== 200) return this.unexpected("verify with the right code", res);
      this.loginOk(p.email, res);
      if (Math.random() < 0.15) {
        // The same code again (a double-submitting app): used codes are gone.
        this.counts.replays++;
        const again = await this.verify(p.email, p.code);
        if (again.status === 200) {
          this.fail("code used twice", `${p.email}: one code logged in twice`);
          this.loginOk(p.email, again);
        } else if (again.status !== 404) {
          this.unexpected("verify with a used code (expected 404)", again);
        }
      }
    } finally {
      this.busy.delete(p.email);
    }
  }

  async verifyWrongThenRight() {
    const p = this.takePending();
    if (!p) return this.send();
    try {
      const typos = 1 + randomInt(2);
      for (let i = 0; i < typos && p.wrong < this.maxAttempts - 1; i++) {
        const res = await this.verify(p.email, this.wrongCode(p.code));
        if (res.status !== 400) return this.unexpected("verify with a wrong code (expected 400)", res);
        p.wrong++;
        this.counts.wrongCodes++;
      }
      const res = await this.verify(p.email, p.code);
      if (res.status !== 200) return this.unexpected("verify with the right code after typos", res);
      this.loginOk(p.email, res);
    } finally {
      this.busy.delete(p.email);
    }
  }

  /** Every attempt spent on wrong codes: then even the right code is refused. */
  async verifyExhaust() {
    const p = this.takePending();
    if (!p) return this.send();
    try {
      while (p.wrong < this.maxAttempts) {
        const res = await this.verify(p.email, this.wrongCode(p.code));
        if (res.status !== 400) return this.unexpected("verify with a wrong code (expected 400)", res);
        p.wrong++;
        this.counts.wrongCodes++;
      }
      const over = await this.verify(p.email, this.wrongCode(p.code));
      if (this.faulted(over)) return;
      if (over.status !== 429) this.fail("attempt cap", `${p.email}: attempt ${this.maxAttempts + 1} answered ${over.status}, not 429`);
      const right = await this.verify(p.email, p.code);
      if (right.status === 200) {
        this.fail("attempt cap", `${p.email}: the right code logged in after ${this.maxAttempts} wrong attempts`);
        return this.loginOk(p.email, right);
      }
      if (right.status !== 429) this.unexpected("the right code after the cap (expected 429)", right);
      this.counts.exhausted++;
    } finally {
      this.busy.delete(p.email);
    }
  }

  /** Three verifies of one code at once (a double-tap on two devices): one login. */
  async verifyRace() {
    const p = this.takePending();
    if (!p) return this.send();
    try {
      const answers = await Promise.all([1, 2, 3].map(() => this.verify(p.email, p.code)));
      const won = answers.filter((a) => a.status === 200);
      for (const a of won) this.loginOk(p.email, a);
      const faults = answers.filter((a) => this.faulted(a)).length;
      if (won.length > 1 || (won.length === 0 && faults === 0)) {
        this.fail("code used twice", `${p.email}: racing verifies answered ${answers.map((a) => a.status)}`);
      }
      for (const a of answers) {
        if (a.status !== 200 && a.status !== 404 && !a.faultHonest) this.unexpected("a racing verify that lost (expected 404)", a);
      }
      this.counts.races++;
    } finally {
      this.busy.delete(p.email);
    }
  }

  /** A session whose access token is fresh enough to use (refreshed first if old). */
  async useSession() {
    const s = this.takeSession();
    if (s && Date.now() - s.accessAt > ACCESS_REFRESH_MS && !(await this.rotate(s))) return undefined;
    return s;
  }

  async rotate(s) {
    const res = await this.call("POST", REFRESH, { body: { refreshToken: s.refreshToken } });
    if (res.status !== 200 || subjectOf(res.body.data?.accessToken) !== s.userId || res.body.data?.user?.email !== s.email) {
      this.unexpected("refresh (sequential refreshes always succeed)", res);
      return false; // a fault may have rotated it: the session is given up
    }
    s.accessToken = res.body.data.accessToken;
    s.refreshToken = res.body.data.refreshToken;
    s.accessAt = Date.now();
    this.counts.refreshes++;
    return true;
  }

  async me() {
    const s = await this.useSession();
    if (!s) return this.send();
    const res = await this.call("GET", ME, { token: s.accessToken });
    if (this.faulted(res)) return this.sessions.push(s);
    if (res.status !== 200 || res.body.data?.email !== s.email) {
      return this.unexpected("GET /users/me", res);
    }
    this.counts.meReads++;
    this.sessions.push(s);
  }

  async patchMe() {
    const s = await this.useSession();
    if (!s) return this.send();
    const bio = `soak bio ${++this.seq}`;
    const res = await this.call("PATCH", ME, { token: s.accessToken, body: { bio, timezone: "Europe/Istanbul" } });
    if (this.faulted(res)) return this.sessions.push(s);
    if (res.status !== 200 || res.body.data?.bio !== bio || res.body.data?.email !== s.email) {
      return this.unexpected("PATCH /users/me", res);
    }
    this.counts.patches++;
    this.sessions.push(s);
  }

  async refresh() {
    const s = this.takeSession();
    if (!s) return this.send();
    if (await this.rotate(s)) this.sessions.push(s);
  }

  /**
   * Two refreshes of one token at once (an app with two tabs). At least one must
   * succeed. Whether the session survives depends on the reuse policy (strict
   * reuse detection revokes it; a grace window keeps it): both are counted, and
   * the database's count of reuse revocations must match what the client saw.
   */
  async refreshRace() {
    const s = this.takeSession();
    if (!s) return this.send();
    let answers;
    try {
      answers = await Promise.all([1, 2].map(() => this.call("POST", REFRESH, { body: { refreshToken: s.refreshToken } })));
    } catch (err) {
      if (err instanceof Interrupted) this.uncertain.reuse++;
      throw err;
    }
    this.counts.refreshRaces++;
    if (answers.some((a) => this.faulted(a))) {
      this.uncertain.reuse++;
      return; // the session is given up
    }
    const ok = answers.filter((a) => a.status === 200);
    if (ok.length === 0 || answers.some((a) => a.status !== 200 && a.status !== 401)) {
      return this.fail("concurrent refresh", `answered ${answers.map((a) => a.status)} (at least one 200, else 401)`);
    }
    if (ok.length === 2) this.counts.raceBothOk++;
    else this.counts.raceOneOk++;
    const data = ok[0].body.data;
    const check = await this.call("GET", ME, { token: data.accessToken });
    if (this.faulted(check)) {
      this.uncertain.reuse++;
      return;
    }
    if (check.status === 200) {
      this.counts.raceSurvived++;
      Object.assign(s, { accessToken: data.accessToken, refreshToken: data.refreshToken, accessAt: Date.now() });
      this.sessions.push(s);
    } else if (check.status === 401) {
      this.counts.raceRevoked++;
    } else {
      this.unexpected("GET /users/me after a concurrent refresh", check);
    }
  }

  async logout() {
    const s = await this.useSession();
    if (!s) return this.send();
    let res;
    try {
      res = await this.call("POST", LOGOUT, { token: s.accessToken, body: { refreshToken: s.refreshToken } });
    } catch (err) {
      if (err instanceof Interrupted) this.uncertain.logouts++;
      throw err;
    }
    if (this.faulted(res)) {
      this.uncertain.logouts++;
      return;
    }
    if (res.status !== 200 || res.body.data?.revokedSessions !== 1) return this.unexpected("logout", res);
    this.counts.logouts++;
    const after = await this.call("GET", ME, { token: s.accessToken });
    if (after.status !== 401 && !this.faulted(after)) this.fail("logout", `the access token still works after logout (${after.status})`);
  }

  /**
   * Schedules the account's deletion, confirmed with a code mailed to its
   * address (the step-up); half the users change their mind.
   */
  async deletion() {
    const s = await this.useSession();
    if (!s) return this.send();
    if (this.deletionBusy.has(s.email) || this.busy.has(s.email) || this.deletionState.get(s.email) === "pending") {
      this.sessions.push(s);
      return this.me();
    }
    if (!this.mayMail()) {
      this.sessions.push(s);
      return this.instead();
    }
    this.deletionBusy.add(s.email);
    this.busy.add(s.email); // no other op sends to the address meanwhile
    let keep = true; // until the deletion is asked for
    let told = true; // an answer from the service; without one (a fault, no answer) the outcome is unknown
    try {
      const sent = await this.call("POST", SEND, { body: { email: s.email } });
      if (this.faulted(sent)) return; // no code, nothing asked
      if (sent.status === 429) return void this.counts.mailCeiling++;
      if (sent.status !== 200) return this.unexpected("send for the deletion's step-up", sent);
      const code = codeIn(this.mail.lastMailTo(s.email));
      keep = false;
      told = false;
      const res = await this.call("POST", DELETION, { token: s.accessToken, body: { code } });
      if (this.faulted(res)) return; // unknown (finally)
      told = true;
      if (res.status !== 200 || res.body.data?.accountDeletionStatus !== "pending") {
        return this.unexpected("schedule deletion", res);
      }
      this.deletionState.set(s.email, "pending");
      this.counts.deletionsScheduled++;
      if (Math.random() < 0.5) {
        told = false;
        const cancel = await this.call("DELETE", DELETION, { token: s.accessToken });
        if (this.faulted(cancel)) return; // unknown (finally)
        told = true;
        if (cancel.status !== 200 || cancel.body.data?.accountDeletionStatus !== "cancelled") {
          return this.unexpected("cancel deletion", cancel);
        }
        this.deletionState.set(s.email, "cancelled");
        this.counts.deletionsCancelled++;
        keep = true;
      }
    } finally {
      if (!told) this.deletionUncertain.add(s.email);
      this.deletionBusy.delete(s.email);
      this.busy.delete(s.email);
      if (keep) this.sessions.push(s);
    }
  }

  // ---- driving -----------------------------------------------------------

  /** Closed loop: `concurrency` clients, each starting its next op when the last ends. */
  async closedLoop(seconds, concurrency) {
    const until = Date.now() + seconds * 1000;
    const [ops0, requests0] = [this.counts.ops, this.started];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < until) await this.run(this.pickOp());
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    return { opsPerSecond: (this.counts.ops - ops0) / elapsed, rps: (this.started - requests0) / elapsed };
  }

  /**
   * Open loop: starts `opsPerSecond` ops a second whether or not earlier ones
   * have finished (as independent users do), never more than `maxInflight` at
   * once. Pauses while the server is down on purpose (that time does not
   * count). Returns when `seconds` of serving time are up; ops still running
   * carry on.
   */
  async openLoop(seconds, opsPerSecond, maxInflight) {
    let left = seconds * 1000;
    let credit = 0;
    let last = performance.now();
    let saturatedTicks = 0;
    let ticks = 0;
    while (left > 0) {
      await sleep(10);
      const now = performance.now();
      ticks++;
      if (!this.down) {
        left -= now - last;
        credit = Math.min(credit + (opsPerSecond * (now - last)) / 1000, Math.max(1, opsPerSecond * 0.25));
      }
      last = now;
      while (credit >= 1 && this.inflight < maxInflight && !this.down) {
        credit -= 1;
        this.run(this.pickOp());
      }
      if (this.inflight >= maxInflight) saturatedTicks++;
    }
    return { saturated: ticks ? saturatedTicks / ticks : 0 };
  }

  async drain(timeoutMs) {
    const until = Date.now() + timeoutMs;
    while (this.inflight > 0 && Date.now() < until) await sleep(50);
    return this.inflight === 0;
  }
}
