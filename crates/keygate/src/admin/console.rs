//! `/ui/`: the console and developer portal, static files embedded in the binary and
//! served from the admin listener, so that nothing but `keygate serve` is needed to open
//! them (no CDN, no build step). The pages call the `/v1/` API with `fetch`; this module
//! only serves the files, each with its type, a strict Content-Security-Policy (scripts
//! and styles from this origin only, no inline script) and an `ETag` for revalidation.
//! docs/console.md says why the screens are plain HTML, CSS and JavaScript modules.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// Scripts, styles, images and `fetch` from this origin only; no inline script or style
/// attribute, no plugin, no framing, forms post nowhere but here.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file: its name under `/ui/`, its media type, its bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $media_type:expr) => {
        Asset {
            name: $name,
            media_type: $media_type,
            body: include_bytes!(concat!("../../ui/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the console; `index.html` is also served as `/ui/`.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("dialog.js", JS),
    asset!("login.js", JS),
    asset!("keys.js", JS),
    asset!("consumers.js", JS),
    asset!("services.js", JS),
    asset!("subscriptions.js", JS),
    asset!("catalogue.js", JS),
    asset!("usage.js", JS),
    asset!("accounts.js", JS),
    asset!("callers.js", JS),
];

/// `GET /ui` → `308` to `/ui/`, so that relative addresses resolve under `/ui/`.
pub async fn redirect() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(LOCATION, "/ui/")]).into_response()
}

/// `GET /ui/`: the single page every screen is drawn in.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /ui/{file}`: a script, the style sheet or an image; `404` in the API's error
/// format for any other name.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return ApiError::NotFound(format!("no console file `{name}`")).into_response();
    };
    let tag = entity_tag(asset.body);
    let fresh = request
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|one| one.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.media_type));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Revalidated at every load (a 304 when unchanged), so that a new binary's files are
    // never mixed with an old one's from the browser's cache.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(ETAG, value);
    }
    response
}

/// A strong entity tag: the first 16 hex digits of the file's SHA-256, quoted.
fn entity_tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(18);
    tag.push('"');
    for byte in &digest[..8] {
        tag.push_str(&format!("{byte:02x}"));
    }
    tag.push('"');
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_pages_import_is_served() {
        for asset in ASSETS.iter().filter(|asset| asset.media_type == JS) {
            let text = std::str::from_utf8(asset.body).unwrap_or_default();
            for line in text.lines().filter(|line| line.starts_with("import ")) {
                let Some(from) = line.split('\'').nth(1) else {
                    continue;
                };
                let name = from.trim_start_matches("./");
                assert!(
                    ASSETS.iter().any(|asset| asset.name == name),
                    "{} imports {from}, which is not served",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn no_inline_script_or_style() {
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap_or_default();
            assert!(!text.contains("innerHTML"), "{} sets innerHTML", asset.name);
            if asset.name.ends_with(".html") {
                assert!(
                    !text.contains("<script>"),
                    "{} has an inline script",
                    asset.name
                );
                assert!(
                    !text.contains("style="),
                    "{} has a style attribute",
                    asset.name
                );
                assert!(
                    !has_handler_attribute(text),
                    "{} has a handler attribute",
                    asset.name
                );
            }
        }
    }

    /// Whether `html` has an attribute such as ` onclick=`.
    fn has_handler_attribute(html: &str) -> bool {
        html.match_indices(" on").any(|(at, _)| {
            let rest = &html[at + 3..];
            let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            letters > 0 && rest[letters..].starts_with('=')
        })
    }

    #[test]
    fn files_are_served_with_their_type_and_the_security_fields() {
        let none = HeaderMap::new();
        for (name, media_type) in [
            ("index.html", "text/html; charset=utf-8"),
            ("keys.js", JS),
            ("style.css", "text/css; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
        ] {
            let response = serve(name, &none);
            assert_eq!(response.status(), StatusCode::OK, "{name}");
            let headers = response.headers();
            assert_eq!(headers[CONTENT_TYPE], media_type, "{name}");
            assert_eq!(
                headers[CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY_VALUE
            );
            assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[CACHE_CONTROL], "no-cache");
        }
        assert_eq!(serve("secret.txt", &none).status(), StatusCode::NOT_FOUND);
        assert_eq!(
            serve("../Cargo.toml", &none).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn an_unchanged_file_is_not_sent_again() {
        let first = serve("app.js", &HeaderMap::new());
        let tag = first.headers()[ETAG].clone();
        let mut asking = HeaderMap::new();
        asking.insert(IF_NONE_MATCH, tag);
        assert_eq!(serve("app.js", &asking).status(), StatusCode::NOT_MODIFIED);
        asking.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(serve("app.js", &asking).status(), StatusCode::OK);
    }

    #[test]
    fn entity_tags_differ_with_contents() {
        assert_eq!(entity_tag(b"a").len(), 18);
        assert_ne!(entity_tag(b"a"), entity_tag(b"b"));
    }
}
