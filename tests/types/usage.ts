// How an app uses the shipped types; compiled (not run) by contract.test.mjs.
import type {
  ErrorResponse,
  SendOtpEmailRequest,
  Session,
  SessionsResponse,
  User,
  VerifyOtpEmailRequest,
  VerifyOtpEmailResponse,
} from "allmine-auth";

const request: VerifyOtpEmailRequest = { email: "john@example.com", code: "1234" };
const send: SendOtpEmailRequest = { email: request.email, locale: "tr" };

function greet(res: VerifyOtpEmailResponse | ErrorResponse): string {
  if (res.isSuccess) {
    const user: User = res.data.user;
    return `${user.name ?? user.email} ${res.data.accessToken.length} ${send.email}`;
  }
  return res.errors.join(", ");
}

function devices(res: SessionsResponse): string[] {
  return res.data.sessions.map((s: Session) =>
    `${s.current ? "*" : " "} ${s.deviceLabel ?? "?"} ${[s.city, s.country].filter(Boolean).join(", ")}`);
}

export { devices, greet };
