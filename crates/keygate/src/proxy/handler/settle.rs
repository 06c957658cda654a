//! Exact mode's wait (`cluster.rate_limits.mode: exact`): a request [`Gateway::check`]
//! let through so far, whose rate limits are taken in Redis before it is forwarded. Only
//! such requests await here; the others never build this future.

use std::net::{IpAddr, Ipv4Addr};

use http::request::Parts;

use super::{Admission, Checked, Gateway, Identity, Matched};
use crate::proxy::authz::{self, Shape};
use crate::proxy::error::ProxyError;
use crate::proxy::exact_check;
use crate::proxy::limit_check;
use crate::state::millis;

impl Gateway {
    /// Takes the rate limits of a request that [`Gateway::check`] answered with
    /// [`super::Checking::Limiting`], in one Redis call, and decides: admitted (with the
    /// rate-limit headers of the closest limit), or refused `429` — then the quotas and
    /// credits the check took are given back, and the refusal is counted and logged as
    /// any other.
    ///
    /// A check on an `authz.listen` listener is answered in its front proxy's HTTP
    /// protocol here ([`authz::answer_to`]); an Envoy gRPC check's answer is made by its
    /// caller, which reads the decision.
    pub async fn settle(&self, admission: Box<Admission>, request: &Parts) -> Checked {
        let mode = admission.record.mode;
        let checked = self.settle_limits(admission, request).await;
        match mode.shape() {
            Some(shape) if shape != Shape::EnvoyGrpc => {
                authz::answer_to(self, shape, checked, &request.headers)
            }
            _ => checked,
        }
    }

    /// [`Gateway::settle`]'s decision, whatever listener asked.
    async fn settle_limits(&self, mut admission: Box<Admission>, request: &Parts) -> Checked {
        let Some(pending) = admission.admitted.pending.take() else {
            return Checked::Admitted(admission);
        };
        let limiter = &self.state.limiter;
        let decided = match limiter.exact() {
            Some(exact) => exact_check::settle(limiter, exact, &pending.limits).await,
            // Not reached: pending limits are made only while exact mode is on.
            None => Ok(None),
        };
        match decided {
            Ok(report) => {
                admission.admitted.limits = report;
                if let Some(Identity::Key(key)) = &admission.admitted.caller {
                    let now = millis(admission.record.time);
                    self.state.usage.note(&self.state.directory.keys, key, now);
                }
                Checked::Admitted(admission)
            }
            Err(refusal) => {
                let Admission {
                    snapshot,
                    started,
                    mut record,
                    route,
                    admitted,
                } = *admission;
                let matched = Matched::at(&snapshot, route);
                let plan = pending
                    .plan
                    .and_then(|index| matched.service.plans.get(index))
                    .map_or(&[][..], |plan| &plan.limits[..]);
                let caller = limit_check::Caller {
                    key: admitted.caller.as_ref().and_then(Identity::key),
                    consumer: admitted.caller.as_ref().map(Identity::consumer),
                    subscription: record.subscription.as_deref(),
                    client: record.client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    headers: &request.headers,
                };
                limit_check::give_back_durable(&self.state.counters, matched.route, plan, &caller);
                let error = ProxyError::RateLimited(refusal);
                self.refuse(&snapshot, started, &mut record, &request.headers, &error)
            }
        }
    }
}
