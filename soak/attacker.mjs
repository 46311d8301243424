// The attacker population of the attack soak, against the service the
// legitimate users are signing in to. Each request is one of:
//
// - floodOne:  a send to one address, a legitimate user's (the victim);
// - floodMany: a send to one of a fixed set of addresses (`floodAddresses`);
// - guess:     a wrong code for an address a legitimate user is signing in to
//              (one with a code pending, when there is one: the worst case, an
//              attacker who knows when its victim asked), with no login id;
// - random:    a verify for a random address that never had a code;
// - v6:        any of the above from the next /64 of one IPv6 /48, rotating
//              through its 65,536 networks.
//
// The first four come from `networks` IPv4 addresses in turn. Every refused
// request (status 400 or more) is sent again once, as it was, at once. The
// attacker never solves a challenge and never knows a right code: its guesses
// avoid the codes pending for the address, so any login it gets is a failure.
import { codeIn } from "../harness/resend_stub.mjs";
import { Interrupted, LostByDevProxy, SEND, VERIFY } from "./traffic.mjs";

/** Shares of the attacker's first requests (repeats come on top). */
export const ATTACK_MIX = { floodOne: 0.1, floodMany: 0.2, guess: 0.35, random: 0.15, v6: 0.2 };
const IPV6_BLOCK = "2001:db8:a77"; // one /48; its /64s are 2001:db8:a77:<0..ffff>::/64

function newWindow() {
  return { requests: 0, repeats: 0, statuses: new Map(), admitted: 0, logins: 0, noAnswer: 0, unknown: 0, byKind: {}, countedWrong: 0 };
}

export class Attacker {
  /**
   * @param {object} o
   * @param {import("./traffic.mjs").World} o.world
   * @param {object} o.mail            the Resend stand-in (the codes to avoid)
   * @param {import("./legit.mjs").Legit} o.legit  whose addresses it attacks
   * @param {string} o.runId
   * @param {number} o.networks        IPv4 networks
   * @param {number} o.floodAddresses  addresses of the flood at many
   * @param {number} o.codeLength
   */
  constructor({ world, mail, legit, runId, networks, floodAddresses, codeLength }) {
    Object.assign(this, { world, mail, legit, runId, codeLength });
    this.v4 = Array.from({ length: networks }, (_, i) => `203.0.113.${i + 1}`);
    this.pool = Array.from({ length: floodAddresses }, (_, i) => `flood-${runId}-${i}@example.com`);
    this.victim = legit.addresses[0];
    this.seq = 0;
    this.randoms = 0;
    this.next64 = 0;
    this.window = newWindow();
    this.total = newWindow();
    /** X-Request-Id of each refused request not yet matched to its log line. */
    this.refusedIds = new Set();
    /** Wrong codes the service counted (400 wrong_code), per address guessed at. */
    this.countedWrongByAddress = new Map();
  }

  cut() {
    const w = this.window;
    this.window = newWindow();
    return w;
  }

  count(fn) {
    fn(this.window);
    fn(this.total);
  }

  v4Ip() {
    return this.v4[this.seq++ % this.v4.length];
  }

  v6Ip() {
    const ip = `${IPV6_BLOCK}:${this.next64.toString(16)}::1`;
    this.next64 = (this.next64 + 1) % 65_536;
    return ip;
  }

  randomCode() {
    return String(Math.floor(Math.random() * 10 ** this.codeLength)).padStart(this.codeLength, "0");
  }

  /** A code that is not one the address may have pending (the user's, or the last one mailed). */
  wrongCode(email) {
    const avoid = new Set([this.legit.pending.get(email)]);
    const last = this.mail.lastMailTo(email);
    if (last) {
      try {
        avoid.add(codeIn(last));
      } catch {
        // not a code mail
      }
    }
    for (;;) {
      const code = this.randomCode();
      if (!avoid.has(code)) return code;
    }
  }

  /** An address a legitimate user is signing in to: one with a code pending if any. */
  guessTarget() {
    const pending = [...this.legit.pending.keys()];
    const from = pending.length ? pending : this.legit.addresses;
    return from[Math.floor(Math.random() * from.length)];
  }

  /** One request of `kind`: [path, body]. */
  request(kind) {
    switch (kind) {
      case "floodOne":
        return [SEND, { email: this.victim }];
      case "floodMany":
        return [SEND, { email: this.pool[Math.floor(Math.random() * this.pool.length)] }];
      case "guess": {
        const email = this.guessTarget();
        return [VERIFY, { email, code: this.wrongCode(email) }];
      }
      default:
        return [VERIFY, { email: `random-${this.runId}-${++this.randoms}@example.com`, code: this.randomCode() }];
    }
  }

  pick() {
    let r = Math.random();
    for (const [kind, share] of Object.entries(ATTACK_MIX)) {
      if ((r -= share) < 0) return kind;
    }
    return "random";
  }

  /** Starts one attacker request (and its repeat if refused). */
  startOne() {
    let kind = this.pick();
    let ip;
    if (kind === "v6") {
      ip = this.v6Ip();
      kind = ["floodOne", "floodMany", "guess", "random"][Math.floor(Math.random() * 4)];
    } else {
      ip = this.v4Ip();
    }
    const [path, body] = this.request(kind);
    return this.send(kind, path, body, ip, false);
  }

  async send(kind, path, body, ip, repeat) {
    let res;
    try {
      res = await this.world.call("POST", path, { body, ip });
    } catch (err) {
      if (err instanceof LostByDevProxy) this.count((w) => w.unknown++);
      else if (err instanceof Interrupted) this.count((w) => w.noAnswer++);
      else throw err;
      return;
    }
    const key = `${res.status} ${res.headers.get("error-code") ?? ""}`.trim();
    this.count((w) => {
      w.requests++;
      if (repeat) w.repeats++;
      w.statuses.set(key, (w.statuses.get(key) ?? 0) + 1);
      w.byKind[kind] = (w.byKind[kind] ?? 0) + 1;
      if (res.status === 200) {
        if (path === VERIFY) w.logins++;
        else w.admitted++;
      }
      if (path === VERIFY && key === "400 wrong_code") w.countedWrong++;
    });
    if (path === VERIFY && key === "400 wrong_code") {
      this.countedWrongByAddress.set(body.email, (this.countedWrongByAddress.get(body.email) ?? 0) + 1);
    }
    if (res.status >= 400) {
      const id = res.headers.get("x-request-id");
      if (id) this.refusedIds.add(id);
      if (!repeat) await this.send(kind, path, body, ip, true);
    }
  }
}
