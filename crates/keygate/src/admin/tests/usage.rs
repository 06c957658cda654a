//! `GET /v1/usage` over counts written to the store as a flush writes them.

use axum::http::StatusCode;
use keygate_store::{UsageRow, DAY_MS, HOUR_MS};

use super::{call, state, TOKEN};

fn row(
    start: i64,
    consumer: &str,
    key: &str,
    service: &str,
    outcome: &str,
    count: i64,
) -> UsageRow {
    UsageRow {
        start,
        consumer: consumer.into(),
        key_id: key.into(),
        service: service.into(),
        outcome: outcome.into(),
        count,
    }
}

#[tokio::test]
async fn usage_buckets_by_hour_and_day_per_key_and_consumer() {
    let state = state();
    let day = 20_000 * DAY_MS; // 2024-10-04
    state
        .sync
        .store()
        .add_usage(&[
            row(day, "alice", "k1", "echo", "allowed", 3),
            row(day, "alice", "k1", "echo", "forbidden", 1),
            row(day + HOUR_MS, "alice", "k2", "other", "allowed", 2),
            row(day + HOUR_MS, "", "", "echo", "missing_key", 4),
            row(day + HOUR_MS, "bob", "k3", "echo", "rate_limited", 5),
        ])
        .unwrap();
    let range = "since=2024-10-04T00:00:00Z&until=2024-10-05T00:00:00Z";

    let (status, hourly) = call(
        &state,
        "GET",
        &format!("/v1/usage?{range}"),
        "",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hourly}");
    assert_eq!(hourly["granularity"], "hour");
    let data = hourly["data"].as_array().unwrap();
    assert_eq!(data.len(), 4, "{hourly}");
    assert_eq!(data[0]["start"], "2024-10-04T00:00:00Z");
    assert_eq!(data[0]["key_id"], "k1");
    assert_eq!(data[0]["requests"], 4);
    assert_eq!(data[0]["allowed"], 3);
    assert_eq!(data[0]["refused"]["forbidden"], 1);
    assert_eq!(data[1]["consumer"], "");
    assert_eq!(data[1]["refused"]["missing_key"], 4);

    let path = format!("/v1/usage?{range}&granularity=day&group=consumer&consumer=alice");
    let (status, daily) = call(&state, "GET", &path, "", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{daily}");
    let data = daily["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{daily}");
    assert_eq!(data[0]["consumer"], "alice");
    assert!(data[0].get("key_id").is_none(), "{daily}");
    assert_eq!(
        (data[0]["requests"].as_i64(), data[0]["allowed"].as_i64()),
        (Some(6), Some(5))
    );

    let path = format!("/v1/usage?{range}&service=echo&key_id=k3");
    let (_, one) = call(&state, "GET", &path, "", Some(TOKEN)).await;
    assert_eq!(one["data"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["data"][0]["service"], "echo");
    assert_eq!(one["data"][0]["refused"]["rate_limited"], 5);

    for bad in [
        "granularity=week",
        "group=service",
        "since=yesterday",
        "since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z",
        "colour=red",
    ] {
        let (status, answer) =
            call(&state, "GET", &format!("/v1/usage?{bad}"), "", Some(TOKEN)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
        assert!(answer["error"]["message"].is_string());
    }
    let (status, _) = call(&state, "GET", "/v1/usage", "", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
