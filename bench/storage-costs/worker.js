// A bare worker that does one kind of storage work per path, so that
// bench/storage-costs/run.sh can price each in workerd's CPU under
// `wrangler dev`: nothing, a KV read, a rate-limit call, a D1 batch of N
// upserts (/d1/N) or of N point reads (/read/N).
let ready;
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    ready ??= env.DB.exec("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
    await ready;
    const key = `k${Math.floor(Math.random() * 1000)}`;
    if (path === "/none" || path === "/api/none") return new Response("ok");
    if (path === "/kv") {
      await env.KV.get("x");
      return new Response("ok");
    }
    if (path === "/limiter") {
      await env.LIMITER.limit({ key });
      return new Response("ok");
    }
    const batch = path.match(/^\/(d1|read)\/(\d+)$/);
    if (batch) {
      const sql =
        batch[1] === "d1"
          ? "INSERT INTO t (k, v) VALUES (?1, 1) ON CONFLICT(k) DO UPDATE SET v = v + 1"
          : "SELECT k, v FROM t WHERE k = ?1";
      await env.DB.batch(Array.from({ length: Number(batch[2]) }, (_, i) => env.DB.prepare(sql).bind(`${key}_${i}`)));
      return new Response("ok");
    }
    return new Response("not found", { status: 404 });
  },
};
