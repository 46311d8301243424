// The interactive reference at /docs, driven in headless Chromium: it loads from
// the worker's own assets, reads the OpenAPI document as the worker serves it,
// lists every operation, sends a request that comes back
// as an envelope, and asks before sending anything to production.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { spawnApp } from "./support/app.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const spec = JSON.parse(readFileSync(new URL("../../api/openapi.json", import.meta.url), "utf8"));
// The routes, and the webhooks the service sends (Swagger UI lists both).
const operations = [spec.paths, spec.webhooks ?? {}]
  .flatMap((group) => Object.values(group).flatMap((ops) => Object.keys(ops))).length;

let app, browser;
before(async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium is needed at ${CHROMIUM} (scripts/test.sh installs Debian's)`);
  app = await spawnApp();
  // Playwright gives each launch a fresh, empty profile of its own.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});
after(async () => {
  await browser?.close();
  await app?.dispose();
});

async function openDocs() {
  const page = await browser.newPage();
  const external = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(app.url)) external.push(r.url());
  });
  await page.goto(`${app.url}docs`);
  await page.waitForSelector(".opblock", { timeout: 20_000 });
  return { page, external };
}

async function execute(page, path) {
  const block = page.locator(`.opblock:has(.opblock-summary-path[data-path="${path}"])`).first();
  await block.locator(".opblock-summary").click();
  await block.locator(".try-out__btn").click();
  await block.locator(".execute").click();
  return block;
}

describe("the docs page", () => {
  test("loads from the worker alone and lists every operation", async () => {
    const { page, external } = await openDocs();
    // The page reads the document as served (not an envelope's `data`).
    assert.match(await page.locator(".info .title").innerText(), new RegExp(`^${spec.info.title}`));
    assert.equal(await page.locator(".opblock").count(), operations);
    const paths = await page.locator(".opblock-summary-path").allInnerTexts();
    assert.ok(paths.some((p) => p.includes("/api/v1/auth/verify-otp-email")), paths.join(" "));
    assert.deepEqual(external, [], "nothing is fetched from elsewhere");
    await page.close();
  });

  test("a request sent from the page comes back as an envelope", async () => {
    const { page } = await openDocs();
    const block = await execute(page, "/health");
    const body = block.locator(".live-responses-table .response-col_description pre").first();
    await body.waitFor({ timeout: 10_000 });
    const json = JSON.parse(await body.innerText());
    assert.equal(json.isSuccess, true);
    assert.equal(json.statusCode, 200);
    assert.deepEqual(json.data, { status: "ok", kv: "ok", d1: "ok" });
    await page.close();
  });

  test("choosing production shows a warning and every request needs confirmation", async () => {
    const { page } = await openDocs();
    const banner = page.locator("#production-warning");
    assert.equal(await banner.isVisible(), false);
    await page.locator(".servers select").selectOption("https://auth.allmine.app");
    assert.equal(await banner.isVisible(), true);

    const dialogs = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    const sent = [];
    page.on("request", (r) => {
      if (r.url().startsWith("https://auth.allmine.app")) sent.push(r.url());
    });
    await execute(page, "/health");
    await page.waitForTimeout(500);
    assert.equal(dialogs.length, 1);
    assert.match(dialogs[0], /PRODUCTION/);
    assert.deepEqual(sent, [], "a cancelled request is not sent");

    await page.locator(".servers select").selectOption({ index: 0 });
    assert.equal(await banner.isVisible(), false);
    await page.close();
  });
});
