//! One module per route; each reads top to bottom:
//! parse → domain → storage → envelope.

mod faults;
mod health;
mod jwks;
mod send_otp_email;
mod verify_otp_email;

use worker::{Request, Response};

use super::context::RequestCtx;
use super::router::Route;
use crate::domain::error::AppError;

pub async fn dispatch(route: Route, req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    match route {
        Route::Health => health::handle(ctx).await,
        Route::Jwks => jwks::handle(ctx),
        Route::SendOtpEmail => send_otp_email::handle(req, ctx).await,
        Route::VerifyOtpEmail => verify_otp_email::handle(req, ctx).await,
        Route::FaultPanic => faults::panic(ctx),
    }
}
