//! keygate: an API gateway whose heart is API-key authentication.
//!
//! The pieces, in the order a request meets them: [`config`] (what to do), [`state`]
//! (the snapshot the data plane reads), [`proxy`] (route, authenticate, forward),
//! [`access_log`] (one JSON line per request); around them [`reload`], [`echo`] and
//! [`cli`].

pub mod access_log;
pub mod cli;
pub mod config;
pub mod echo;
pub mod key;
pub mod proxy;
pub mod reload;
pub mod state;
