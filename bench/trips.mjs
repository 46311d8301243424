// Storage round trips per path, as our worker counts them (platform::trips)
// and writes them in each request's log line. Each path is run once, one
// request at a time, and its line is read back from the worker's output by the
// X-Request-Id the answer carries. The worker must log every request
// (REQUEST_LOG=all); `logs()` returns its output so far.
export async function countTrips({ base, logs, mail, deleteKvKey }) {
  let ip = 0;
  const freshIp = () => `198.18.${(++ip >> 8) & 255}.${ip & 255}`;
  async function call(method, path, body, clientIp = freshIp()) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", "cf-connecting-ip": clientIp },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => null);
    return { status: res.status, body: json, requestId: res.headers.get("x-request-id") };
  }
  async function lineOf(requestId) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const text = logs();
      const at = text.lastIndexOf(`"requestId":"${requestId}"`);
      if (at >= 0) {
        const start = text.lastIndexOf("\n", at) + 1;
        const end = text.indexOf("\n", at);
        return JSON.parse(text.slice(start, end < 0 ? undefined : end));
      }
      if (Date.now() > deadline) throw new Error(`no log line for request ${requestId}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const rows = [];
  async function measure(route, path, goal, request) {
    const res = await request();
    const line = await lineOf(res.requestId);
    rows.push({ route, path, status: res.status, goal, ...line.trips });
  }
  let n = 0;
  const address = () => `trips-${Date.now()}-${++n}@example.com`;
  const send = (email, clientIp) => call("POST", "/api/v1/auth/send-otp-email", { email }, clientIp);
  const verify = (email, code, clientIp) =>
    call("POST", "/api/v1/auth/verify-otp-email", { email, code }, clientIp);
  const wrong = (code) => String((Number(code) + 1) % 10 ** code.length).padStart(code.length, "0");

  await measure("health", "KV read and D1 query", 1, () => call("GET", "/health"));

  // Send's goal: two storage round trips plus the mail call.
  await measure("send-otp-email", "a first code for an address", 3, () => send(address()));
  const resent = address();
  await send(resent);
  await measure("send-otp-email", "a second code (resend)", 3, () => send(resent));
  const flooder = freshIp();
  for (let i = 0; i < 20; i++) await send(address(), flooder);
  await measure("send-otp-email", "refused: client network flooding", 1, () => send(address(), flooder));

  let email = address();
  await send(email);
  await measure("verify-otp-email", "right code", 2, () => verify(email, mail.codeFor(email)));
  email = address();
  await send(email);
  await measure("verify-otp-email", "wrong code", 2, () => verify(email, wrong(mail.codeFor(email))));
  email = address();
  await send(email);
  for (let i = 0; i < 5; i++) await verify(email, wrong(mail.codeFor(email)));
  await measure("verify-otp-email", "refused: code's attempts spent", 2, () => verify(email, mail.codeFor(email)));
  await measure("verify-otp-email", "refused: no code pending", 2, () => verify(address(), "123456"));
  email = address();
  await send(email);
  await verify(email, mail.codeFor(email));
  await measure("verify-otp-email", "refused: code already used", 2, () => verify(email, mail.codeFor(email)));
  email = address();
  await send(email);
  await deleteKvKey(`otp:${email}`);
  await measure("verify-otp-email", "stale KV (copy missing), right code", 3, () => verify(email, mail.codeFor(email)));
  email = address();
  await send(email);
  await deleteKvKey(`otp:${email}`);
  await measure("verify-otp-email", "stale KV (copy missing), wrong code", 3, () =>
    verify(email, wrong(mail.codeFor(email))));
  const guesser = freshIp();
  for (let i = 0; i < 60; i++) await verify(address(), "123456", guesser);
  await measure("verify-otp-email", "refused: client network flooding", 1, () => verify(address(), "123456", guesser));

  email = address();
  await send(email);
  const login = await verify(email, mail.codeFor(email));
  await measure("refresh-token", "rotate a refresh token", null, () =>
    call("POST", "/api/v1/auth/refresh-token", { refreshToken: login.body.data.refreshToken }));
  return rows;
}
