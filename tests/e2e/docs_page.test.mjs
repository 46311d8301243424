// The interactive reference at /docs, driven in headless Chromium: it loads from
// the worker's own assets, reads the OpenAPI document as the worker serves it,
// lists every operation, sends a request that comes back
// as an envelope, and asks before sending anything to production.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium } from "playwright-core";
import { freshEmail, spawnApp } from "../../harness/app.mjs";

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
  // Anything the page's Content-Security-Policy blocked: Chromium's own report,
  // and the page's violation events (which also cover inline styles and images).
  const blocked = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
  });
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`),
    ),
  );
  await page.goto(`${app.url}docs`);
  await page.waitForSelector(".opblock", { timeout: 20_000 });
  return { page, external, blocked };
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
    const { page, external, blocked } = await openDocs();
    // The page reads the document as served (not an envelope's `data`).
    assert.match(await page.locator(".info .title").innerText(), new RegExp(`^${spec.info.title}`));
    assert.equal(await page.locator(".opblock").count(), operations);
    const paths = await page.locator(".opblock-summary-path").allInnerTexts();
    assert.ok(paths.some((p) => p.includes("/api/v1/auth/verify-otp-email")), paths.join(" "));
    assert.deepEqual(external, [], "nothing is fetched from elsewhere");
    assert.deepEqual(blocked, [], "the Content-Security-Policy blocks nothing the page needs");
    await page.close();
  });

  test("carries a Content-Security-Policy that forbids framing and allows the documented servers", async () => {
    for (const path of ["/docs", "/docs/docs.js", "/docs/vendor/swagger-ui-bundle.js"]) {
      const res = await app.raw("GET", path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("x-frame-options"), "DENY", path);
      const csp = Object.fromEntries(
        res.headers.get("content-security-policy").split(";").map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name, values];
        }),
      );
      assert.deepEqual(csp["frame-ancestors"], ["'none'"], path);
      assert.deepEqual(csp["script-src"], ["'self'"], path);
      assert.deepEqual(csp["default-src"], ["'none'"], path);
      for (const { url } of spec.servers) assert.ok(csp["connect-src"].includes(url), `${path}: ${url}`);
    }
  });

  test("another page cannot frame it", async () => {
    const page = await browser.newPage();
    await page.setContent(`<iframe src="${app.url}docs" width="800" height="600"></iframe>`);
    await page.waitForTimeout(2_000);
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert.equal(await frame.locator("#swagger-ui").count(), 0, "the docs rendered inside a frame");
    await page.close();
  });

  test("a request sent from the page comes back as an envelope", async () => {
    const { page, blocked } = await openDocs();
    const block = await execute(page, "/health");
    const body = block.locator(".live-responses-table .response-col_description pre").first();
    await body.waitFor({ timeout: 10_000 });
    const json = JSON.parse(await body.innerText());
    assert.equal(json.isSuccess, true);
    assert.equal(json.statusCode, 200);
    assert.deepEqual(json.data, { status: "ok", kv: "ok", d1: "ok" });
    assert.deepEqual(blocked, []);
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

// Not the docs page, but the same browser: the code email as a mail client
// would show it, rendered from the HTML the worker actually sent.
describe("the code email's HTML", () => {
  test("renders in Chromium with the code visible, loading nothing", async () => {
    const email = freshEmail();
    const code = await app.requestCode(email);
    const { html } = app.mail.lastMailTo(email);
    const page = await browser.newPage({ viewport: { width: 600, height: 800 } });
    const fetched = [];
    page.on("request", (r) => fetched.push(r.url()));
    const dir = mkdtempSync(join(tmpdir(), "allmine-email-"));
    try {
      await page.setContent(html, { waitUntil: "load" });
      const shown = page.getByText(code, { exact: true });
      assert.equal(await shown.count(), 1, "the code stands alone in one element");
      assert.ok(await shown.isVisible());
      const box = await shown.boundingBox();
      assert.ok(box.height >= 30, `the code is large (${box.height}px high)`);
      assert.match(await page.locator("body").innerText(), /expires in 5 minutes/);
      assert.deepEqual(fetched, [], "the email loads nothing from anywhere");
      // Kept out of the repository: a temporary folder, removed afterwards.
      const png = join(dir, "code-email-en.png");
      await page.screenshot({ path: png, fullPage: true });
      const bytes = readFileSync(png);
      assert.equal(bytes.subarray(1, 4).toString(), "PNG");
      assert.ok(statSync(png).size > 5_000, "a screenshot with something drawn in it");
    } finally {
      await page.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
