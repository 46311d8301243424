// The mailbox of Miniflare's local send_email binding (EMAIL_PROVIDER=cloudflare).
// Locally the binding sends nothing: it writes each message's text and HTML to
// files under Miniflare's temporary folder and logs, at INFO, a line naming them:
//
//   send_email binding called with MessageBuilder:
//   From: Allmine <login@allmine.local>
//   To: user@example.com
//   Subject: Your Allmine sign-in code
//
//   Text: /tmp/miniflare-…/files/email-text/<uuid>.txt
//   HTML: /tmp/miniflare-…/files/email-html/<uuid>.html
//
// (miniflare/dist/src/workers/email/send_email.worker.js). `wrangler dev` prints
// the same lines. This reads them back into mails shaped like the Resend
// stand-in's (`from`, `to`, `subject`, `text`, `html`), so `codeIn` reads both.
import { readFileSync } from "node:fs";
import { Log, LogLevel } from "miniflare";
import { codeIn } from "./resend_stub.mjs";

const MARK = "send_email binding called with MessageBuilder:";

// ANSI colours, which the binding adds when it thinks it writes to a terminal.
const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");

/**
 * The messages named in a stretch of log output (Miniflare's log lines, or
 * `wrangler dev`'s stdout), each with its header fields and file paths.
 */
export function sentInLog(output) {
  const messages = [];
  for (const block of plain(String(output)).split(MARK).slice(1)) {
    const field = (name) => new RegExp(`^\\s*${name}: (.*)$`, "m").exec(block)?.[1]?.trim();
    messages.push({
      from: field("From"),
      to: (field("To") ?? "").split(",").map((t) => t.trim()).filter(Boolean),
      subject: field("Subject"),
      textPath: field("Text"),
      htmlPath: field("HTML"),
    });
  }
  return messages;
}

/** A logged message with its text and HTML read from the files the binding wrote. */
export function readSent(message) {
  const read = (path) => (path ? readFileSync(path, "utf8") : undefined);
  return { ...message, text: read(message.textPath), html: read(message.htmlPath) };
}

/**
 * A mailbox fed by a Miniflare `Log`: pass `mailbox.log` as Miniflare's `log`
 * option. Other lines go on to a `Log` of `level`, as before.
 */
export function cloudflareMailbox({ level = LogLevel.WARN } = {}) {
  const sent = [];
  const last = new Map();
  class MailboxLog extends Log {
    logWithLevel(lineLevel, message) {
      const found = sentInLog(message);
      if (found.length === 0) return super.logWithLevel(lineLevel, message);
      for (const mail of found.map(readSent)) {
        sent.push(mail);
        for (const to of mail.to) last.set(to, mail);
      }
    }
  }
  // The binding logs through `waitUntil`: its line may reach us just after
  // the worker answered. Wait for it a little.
  const lastMailTo = async (to, { timeoutMs = 5000 } = {}) => {
    for (const start = Date.now(); Date.now() - start < timeoutMs; ) {
      if (last.has(to)) return last.get(to);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return last.get(to);
  };
  return {
    log: new MailboxLog(level),
    sent,
    lastMailTo,
    /** The code in the last email to `to`, read the way a person would. */
    async codeFor(to) {
      const mail = await lastMailTo(to);
      if (!mail) throw new Error(`no email was sent to ${to} through the send_email binding`);
      return codeIn(mail);
    },
    close: async () => {},
  };
}
