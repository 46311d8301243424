// The bench's stand-in for Resend's POST /emails, shared by our worker and the
// reference: any bearer key, answers at once, keeps the last code per address
// (ours mails the code on a line of its own; the reference writes
// "Your Allmine code is 123456.").
import http from "node:http";

export async function startMailStub() {
  const codes = new Map();
  let mails = 0;
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      try {
        const body = JSON.parse(raw);
        const text = String(body.text ?? "");
        const code =
          text.split("\n").map((l) => l.trim()).find((l) => /^\d{4,8}$/.test(l)) ??
          /code is (\d{4,8})/.exec(text)?.[1];
        for (const to of body.to ?? []) if (code) codes.set(to, code);
        mails++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: `email_${mails}` }));
      } catch {
        res.writeHead(422, { "content-type": "application/json" });
        res.end('{"message":"invalid"}');
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    codeFor(to) {
      const code = codes.get(to);
      if (!code) throw new Error(`no code was mailed to ${to}`);
      return code;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  };
}
