//! One module per route; each reads top to bottom:
//! parse → domain → storage → envelope.

mod account_deletion;
mod authorization_server;
mod complete_registration;
mod discovery;
#[cfg(feature = "fault-injection")]
mod faults;
mod health;
mod jwks;
mod logout;
mod oauth_token;
pub mod openapi;
mod refresh_token;
mod send_otp_email;
mod sessions;
mod users_me;
mod verify_otp_email;

use worker::{Request, Response};

use super::context::RequestCtx;
use super::router::Route;
use crate::domain::error::AppError;

pub async fn dispatch(route: Route, req: Request, ctx: &RequestCtx) -> Result<Response, AppError> {
    // The fault routes need no setting, so they would answer even where the
    // configuration is refused; a test build refuses it outside
    // ENVIRONMENT=local (config::test_build_problem), and so do they.
    #[cfg(feature = "fault-injection")]
    if matches!(
        route,
        Route::FaultPanic | Route::FaultRates | Route::FaultFinalizeDeletion | Route::FaultMemory
    ) {
        ctx.config()?;
    }
    match route {
        Route::Health => health::handle(ctx).await,
        Route::Jwks => jwks::handle(ctx),
        Route::Discovery => discovery::handle(ctx),
        Route::AuthorizationServer => authorization_server::handle(ctx),
        Route::OpenApi => openapi::handle(req, ctx).await,
        Route::SendOtpEmail => send_otp_email::handle(ctx).await,
        Route::VerifyOtpEmail => verify_otp_email::handle(ctx).await,
        Route::RefreshToken => refresh_token::handle(ctx).await,
        Route::OAuthToken => oauth_token::handle(req, ctx).await,
        Route::Logout => logout::handle(req, ctx).await,
        Route::CompleteRegistration => complete_registration::handle(req, ctx).await,
        Route::GetMe => users_me::get(req, ctx).await,
        Route::PatchMe => users_me::patch(req, ctx).await,
        Route::ScheduleDeletion => account_deletion::schedule(req, ctx).await,
        Route::CancelDeletion => account_deletion::cancel(req, ctx).await,
        Route::ListSessions => sessions::list(req, ctx).await,
        Route::RevokeSession => sessions::revoke(req, ctx).await,
        #[cfg(feature = "fault-injection")]
        Route::FaultPanic => faults::panic(ctx),
        #[cfg(feature = "fault-injection")]
        Route::FaultRates => faults::set_rates(ctx),
        #[cfg(feature = "fault-injection")]
        Route::FaultFinalizeDeletion => faults::finalize_deletion(ctx).await,
        #[cfg(feature = "fault-injection")]
        Route::FaultMemory => faults::memory(ctx),
    }
}
