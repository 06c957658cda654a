//! keygate: an API gateway whose heart is API-key authentication.
//!
//! The pieces, in the order a request meets them: [`config`] (what to do), [`state`]
//! (the snapshot and key directory the data plane reads, kept equal to the store),
//! [`proxy`] (route, authenticate, authorize, forward), [`access_log`], [`metrics`] and
//! [`usage_flush`];
//! around them [`admin`] (the REST API), [`app`] (start-up), [`reload`], [`tls`], [`echo`] and
//! [`cli`].

pub mod access_log;
pub mod access_record;
pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod echo;
pub mod import;
pub mod key;
pub mod limits;
pub mod metrics;
pub mod proxy;
pub mod reload;
pub mod state;
pub mod subscription_reason;
pub mod tls;
pub mod usage_flush;
