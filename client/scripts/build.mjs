// Builds the package into dist/: the API's types, generated from api/openapi.json
// into the repository's types/api.d.ts (`npm run types`), are copied in beside
// the sources (their one source of truth stays the OpenAPI document), then tsc
// compiles src/ to JavaScript and declarations, and the copy ships beside them.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "..");
const api = join(here, "..", "types", "api.d.ts");

mkdirSync(join(here, "src", "generated"), { recursive: true });
copyFileSync(api, join(here, "src", "generated", "api.d.ts"));
rmSync(join(here, "dist"), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(here, "tsconfig.json")], { stdio: "inherit" });
mkdirSync(join(here, "dist", "generated"), { recursive: true });
copyFileSync(api, join(here, "dist", "generated", "api.d.ts"));
