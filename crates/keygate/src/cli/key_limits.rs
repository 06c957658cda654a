//! The limit flags of `keygate keys create` and `keys update`: `--credits N`,
//! `--refill AMOUNT/PERIOD`, `--limit COUNT/WINDOW[:BY]`, `--quota COUNT/PERIOD[:BY]`,
//! as the admin API's `credits`, `refill` and `limits` fields. The gateway checks the
//! values.

use clap::Args;
use serde_json::{json, Map, Value};

use super::plans::parse_limit;

/// The limit flags of a key.
#[derive(Debug, Args, Default)]
pub struct KeyLimitArgs {
    /// Uses the key has (Unkey's `remaining`): each call takes its route's cost; at 0 the
    /// key is refused `429`. Setting them again starts a new count; `none` removes them.
    #[arg(long, value_name = "N|none")]
    pub credits: Option<String>,
    /// Refills the credits to AMOUNT every UTC day or month: `1000/day`, `50000/month`;
    /// `none` removes the refill.
    #[arg(long, value_name = "AMOUNT/PERIOD|none")]
    pub refill: Option<String>,
    /// A rate limit of the key's own, `COUNT/WINDOW[:BY]` (BY defaults to `key`),
    /// repeatable; replaces the key's limits.
    #[arg(long = "limit", value_name = "COUNT/WINDOW[:BY]", value_parser = parse_limit)]
    pub limits: Vec<Value>,
    /// A quota of the key's own, `COUNT/PERIOD[:BY]` with PERIOD `day` or `month` (UTC),
    /// repeatable; replaces the key's limits together with --limit.
    #[arg(long = "quota", value_name = "COUNT/PERIOD[:BY]", value_parser = parse_limit)]
    pub quotas: Vec<Value>,
}

impl KeyLimitArgs {
    /// Adds the given flags to a request body.
    pub fn add_to(self, body: &mut Map<String, Value>) -> Result<(), String> {
        match self.credits.as_deref() {
            None => {}
            Some("none") => {
                body.insert("credits".into(), Value::Null);
            }
            Some(n) => {
                let n: u64 = n
                    .parse()
                    .map_err(|_| format!("--credits takes a whole number or none, found `{n}`"))?;
                body.insert("credits".into(), json!(n));
            }
        }
        match self.refill.as_deref() {
            None => {}
            Some("none") => {
                body.insert("refill".into(), Value::Null);
            }
            Some(text) => {
                let parsed = text.split_once('/').and_then(|(amount, per)| {
                    Some((amount.trim().parse::<u64>().ok()?, per.trim()))
                });
                let Some((amount, per)) = parsed else {
                    return Err(format!(
                        "--refill takes AMOUNT/PERIOD such as 1000/day or 50000/month, found `{text}`"
                    ));
                };
                body.insert("refill".into(), json!({"amount": amount, "per": per}));
            }
        }
        if !self.limits.is_empty() || !self.quotas.is_empty() {
            let mut limits = self.limits;
            limits.extend(self.quotas.into_iter().map(|mut quota| {
                quota["kind"] = json!("quota");
                quota
            }));
            for limit in &mut limits {
                if limit.get("by").is_none() {
                    limit["by"] = json!("key");
                }
            }
            body.insert("limits".into(), Value::Array(limits));
        }
        Ok(())
    }
}

/// The key's credits and limits as one cell: `50 credits (refill 100/month), 10/minute`.
pub fn cell(key: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(credits) = key["credits"].as_object() {
        let mut text = format!("{} credits", credits["amount"]);
        if let Some(refill) = credits.get("refill").and_then(Value::as_object) {
            let per = refill["per"].as_str().unwrap_or_default();
            text.push_str(&format!(" (refill {}/{per})", refill["amount"]));
        }
        parts.push(text);
    }
    for limit in key["limits"].as_array().into_iter().flatten() {
        let quota = if limit["kind"] == "quota" {
            " quota"
        } else {
            ""
        };
        let per = limit["per"].as_str().unwrap_or_default();
        parts.push(format!("{}/{per}{quota}", limit["count"]));
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}
