//! Events for downstream services, from the outbox to the receivers:
//! `publish` puts outbox events on the EVENTS queue (after a response, and from
//! the Cron Trigger for anything left), `deliver` is the queue's consumer,
//! which POSTs each one as a Standard Webhook and lets the queue retry it.

pub mod deliver;
pub mod publish;
