// `npm run setup -- --env NAME [--config wrangler.toml]`: creates on Cloudflare
// what the environment's worker needs and does not have yet (its KV
// namespaces, its D1 database, its queues and dead-letter queue, named as in
// wrangler.toml) and writes the new ids into wrangler.toml in place of the
// REPLACE_WITH_... placeholders. Idempotent: what exists is found by name and
// reused, so a second run creates nothing and leaves wrangler.toml as it was.
//
// What exists is read from wrangler's own listings (scripts/wrangler-output.mjs),
// never from what a create printed: the tests replay recorded output.
// KV namespaces are titled `<worker name>-<binding>` (allmine-auth-OTP_CODES):
// KV has no other name to find one by.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { unstable_readConfig } from "wrangler";
import { listQueues, parseD1List, parseKvList, queuesOf, wrangler } from "./wrangler-output.mjs";

const ROOT = new URL("../", import.meta.url).pathname;
const PLACEHOLDER = /^REPLACE_WITH_/;
const unset = (id) => !id || PLACEHOLDER.test(id);

/** wrangler.toml's text with `key` set to `value` in the `[[env.<env>.<table>]]`
 * whose binding is `binding`; the rest, comments and order included, as it
 * was. Throws when there is no such line to change (a config this edit cannot
 * read is left for the operator). */
export function setBindingId(toml, env, table, binding, key, value) {
  const lines = toml.split("\n");
  const header = `[[env.${env}.${table}]]`;
  let start = -1;
  for (let i = 0; i <= lines.length; i++) {
    const line = lines[i]?.trim();
    // A block ends at the next table header, or at the end.
    if (start >= 0 && (i === lines.length || line.startsWith("["))) {
      const block = lines.slice(start, i);
      if (block.some((l) => new RegExp(`^\\s*binding\\s*=\\s*"${binding}"\\s*$`).test(l))) {
        const at = block.findIndex((l) => new RegExp(`^\\s*${key}\\s*=`).test(l));
        if (at >= 0) {
          lines[start + at] = `${key} = "${value}"`;
          return lines.join("\n");
        }
      }
      start = -1;
    }
    if (line === header) start = i + 1;
  }
  throw new Error(`no ${key} line for ${binding} under ${header} in wrangler.toml`);
}

/** Makes `env` complete, calling `run` (wrangler) and editing the file at
 * `configPath`; returns what it did, as sentences. */
export function setup(configPath, env, run = wrangler) {
  const known = unstable_readConfig({ config: configPath }, { hideWarnings: true }).definedEnvironments ?? [];
  if (!known.includes(env)) {
    throw new Error(`no environment "${env}" in ${configPath}; known: ${known.join(" ")}`);
  }
  const config = unstable_readConfig({ config: configPath, env }, { hideWarnings: true });
  const done = [];
  let toml = readFileSync(configPath, "utf8");
  // The account-wide commands read no environment; --config keeps wrangler
  // on this file (its account_id, if it has one).
  const wr = (...args) => run([...args, "--config", configPath]);

  const kvs = config.kv_namespaces ?? [];
  if (kvs.length > 0) {
    let listed = parseKvList(wr("kv", "namespace", "list"));
    for (const { binding, id } of kvs) {
      const title = `${config.name}-${binding}`;
      if (!unset(id)) {
        if (!listed.some((ns) => ns.id === id)) done.push(`warning: KV namespace ${binding}'s id ${id} is not in this account`);
        continue;
      }
      let found = listed.find((ns) => ns.title === title);
      if (!found) {
        wr("kv", "namespace", "create", title);
        listed = parseKvList(wr("kv", "namespace", "list"));
        found = listed.find((ns) => ns.title === title);
        if (!found) throw new Error(`created KV namespace ${title}, but wrangler does not list it`);
        done.push(`created KV namespace ${title}`);
      } else {
        done.push(`found KV namespace ${title}`);
      }
      toml = setBindingId(toml, env, "kv_namespaces", binding, "id", found.id);
    }
  }

  const dbs = config.d1_databases ?? [];
  if (dbs.length > 0) {
    let listed = parseD1List(wr("d1", "list", "--json"));
    for (const { binding, database_name: name, database_id: id } of dbs) {
      if (!unset(id)) {
        if (!listed.some((db) => db.uuid === id)) done.push(`warning: D1 database ${binding}'s database_id ${id} is not in this account`);
        continue;
      }
      let found = listed.find((db) => db.name === name);
      if (!found) {
        wr("d1", "create", name);
        listed = parseD1List(wr("d1", "list", "--json"));
        found = listed.find((db) => db.name === name);
        if (!found) throw new Error(`created D1 database ${name}, but wrangler does not list it`);
        done.push(`created D1 database ${name}`);
      } else {
        done.push(`found D1 database ${name}`);
      }
      toml = setBindingId(toml, env, "d1_databases", binding, "database_id", found.uuid);
    }
  }

  const needed = queuesOf(config);
  if (needed.length > 0) {
    const existing = listQueues((args) => wr(...args));
    for (const queue of needed.filter((q) => !existing.includes(q))) {
      wr("queues", "create", queue);
      done.push(`created queue ${queue}`);
    }
  }

  // Written only when an id changed: a second run leaves the file untouched.
  if (toml !== readFileSync(configPath, "utf8")) {
    writeFileSync(configPath, toml);
    done.push(`wrote the new ids into ${configPath}`);
  }
  return done;
}

function main() {
  const args = process.argv.slice(2);
  let env;
  let configPath = `${ROOT}wrangler.toml`;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => inline ?? args[++i];
    if (flag === "--env" || flag === "-e") env = value();
    else if (flag === "--config" || flag === "-c") configPath = value();
    else {
      console.error(`setup: unknown argument ${args[i]}`);
      process.exit(2);
    }
  }
  if (!env) {
    console.error("usage: npm run setup -- --env NAME [--config wrangler.toml]");
    process.exit(2);
  }
  try {
    const done = setup(configPath, env);
    for (const line of done) console.log(`setup (${env}): ${line}`);
    console.log(`setup (${env}): ${done.some((l) => /^(created|wrote)/.test(l)) ? "done" : "nothing to do"}; next: set the secrets, then npm run deploy -- --env ${env}`);
  } catch (err) {
    console.error(`setup (${env}): ${err.message}`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
