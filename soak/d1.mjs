// Reads the local D1 database the way an operator would: `wrangler d1 execute
// --local` against the persisted state of `wrangler dev`.
import { execFile } from "node:child_process";
import { join } from "node:path";

/** Runs `;`-separated statements; resolves to one array of rows per statement. */
export function d1(root, persistTo, sql) {
  const wrangler = join(root, "node_modules", ".bin", "wrangler");
  return new Promise((resolve, reject) => {
    execFile(
      wrangler,
      ["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--json", "--command", sql],
      { cwd: root, encoding: "utf8", maxBuffer: 512 * 1024 * 1024, timeout: 120_000, env: { ...process.env, CI: "true" } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`wrangler d1 execute failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout).map((r) => r.results));
        } catch (e) {
          reject(new Error(`wrangler d1 execute printed no JSON: ${e.message}\n${stdout.slice(0, 2000)}`));
        }
      },
    );
  });
}
