// How an app uses the shipped types; compiled (not run) by contract.test.mjs.
import type {
  ErrorResponse,
  SendOtpEmailRequest,
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

export { greet };
