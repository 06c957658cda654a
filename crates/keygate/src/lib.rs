//! keygate: an API gateway whose heart is API-key authentication.
//!
//! The binary's pieces, in the order a request meets them: [`config`] (what to do),
//! [`state`] (the snapshot the data plane reads), [`proxy`] (route, authenticate,
//! forward), [`access_log`] (one JSON line per request); and around them [`reload`],
//! [`echo`] and [`cli`].

pub mod config;
pub mod key;
