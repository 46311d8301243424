// The package as an app gets it: its types compile in an app's code, and its
// JavaScript needs nothing but `fetch` (no dependency, no Node built-in), so it
// bundles for a browser or React Native as it is.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));

test("an app's TypeScript compiles against the published types", async () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const project = fileURLToPath(new URL("types/tsconfig.json", import.meta.url));
  await promisify(execFile)(process.execPath, [tsc, "-p", project]);
});

test("the built JavaScript imports only its own files", () => {
  for (const file of readdirSync(dist).filter((f) => f.endsWith(".js"))) {
    const text = readFileSync(`${dist}${file}`, "utf8");
    const imports = [...text.matchAll(/\b(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);
    assert.ok(imports.every((spec) => spec.startsWith("./")), `${file} imports ${imports}`);
  }
});

test("it bundles for a browser, small", async () => {
  const out = await build({
    entryPoints: [`${dist}index.js`],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2020",
    write: false,
  });
  const bytes = out.outputFiles[0].contents.length;
  assert.ok(bytes < 8_000, `${bytes} bytes minified`);
});
