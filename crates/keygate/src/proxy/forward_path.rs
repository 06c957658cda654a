//! The path a request is forwarded with: what is left of its normal path once the
//! service prefix is taken off (unless `strip_prefix: false`), joined to the target's
//! base path by `RequestPath::pieces` as nginx's `proxy_pass` with a URI joins them —
//! `/test` on prefix `/test` to `http://backend/team` is `/team`, `/test/` is `/team/`,
//! `/test/x` is `/team/x` (docs/config.md, `strip_prefix`).

use crate::config::Service;

/// The forwarded path of the normal `path` of a request routed to `service`: without
/// the prefix unless `strip_prefix: false`. Nothing left is left empty, so that the
/// target's base path goes alone, as written; the router matched the prefix at a segment
/// boundary, so what is left is empty or starts with `/`.
pub fn of<'p>(service: &Service, path: &'p str) -> &'p str {
    if !service.strip_prefix {
        return path;
    }
    path.get(service.path_prefix.len()..).unwrap_or("")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::proxy::upstream::RequestPath;

    /// The path a request for `path` reaches the upstream with, on a service with
    /// `prefix`, `strip_prefix: strip` and the target `http://127.0.0.1:9001{target}`:
    /// the configuration read as a file would be, then joined as the head writer joins it.
    fn sent(prefix: &str, strip: bool, target: &str, path: &str) -> String {
        let text = format!(
            "services:\n  - name: s\n    path_prefix: {prefix}\n    strip_prefix: {strip}\n    \
             upstream: http://127.0.0.1:9001{target}\n    routes:\n      - {{name: r, paths: ['/*'], auth: none}}\n"
        );
        let config = Config::parse("t.yaml", &text).unwrap();
        let service = &config.services[0];
        let request = RequestPath {
            base: &service.upstream.targets[0].base_path,
            path: of(service, path),
            query: None,
        };
        request.pieces().concat()
    }

    /// Every combination of prefix (with and without its trailing slash), request path
    /// (nothing left, `/`, `/x`, `/x/`), target path (none, `/`, `/team`, `/team/`) and
    /// `strip_prefix`. Where nginx would make a `//` (`location /test` with
    /// `proxy_pass http://backend/team/`) or glue segments (`location /test/` with
    /// `proxy_pass http://backend/team`: `/teamx`), one `/` joins them.
    #[test]
    fn every_prefix_request_and_target_path_joins_as_proxy_pass() {
        let targets = ["", "/", "/team", "/team/"];
        // (request, stripped: sent to each target, kept: sent to each target)
        let table: [(&str, [&str; 4], [&str; 4]); 4] = [
            (
                "/test",
                ["/", "/", "/team", "/team/"],
                ["/test", "/test", "/team/test", "/team/test"],
            ),
            (
                "/test/",
                ["/", "/", "/team/", "/team/"],
                ["/test/", "/test/", "/team/test/", "/team/test/"],
            ),
            (
                "/test/x",
                ["/x", "/x", "/team/x", "/team/x"],
                ["/test/x", "/test/x", "/team/test/x", "/team/test/x"],
            ),
            (
                "/test/x/",
                ["/x/", "/x/", "/team/x/", "/team/x/"],
                ["/test/x/", "/test/x/", "/team/test/x/", "/team/test/x/"],
            ),
        ];
        for prefix in ["/test", "/test/"] {
            for (request, stripped, kept) in table {
                for (index, target) in targets.iter().enumerate() {
                    assert_eq!(
                        sent(prefix, true, target, request),
                        stripped[index],
                        "prefix {prefix}, strip_prefix, target {target:?}, request {request}"
                    );
                    assert_eq!(
                        sent(prefix, false, target, request),
                        kept[index],
                        "prefix {prefix}, no strip_prefix, target {target:?}, request {request}"
                    );
                }
            }
        }
    }

    /// Without a prefix nothing is taken off: the whole path follows the base.
    #[test]
    fn without_a_prefix_the_whole_path_follows_the_base() {
        let text = "services:\n  - name: s\n    upstream: http://127.0.0.1:9001/team/\n    \
                    routes:\n      - {name: r, paths: ['/*'], auth: none}\n";
        let config = Config::parse("t.yaml", text).unwrap();
        let service = &config.services[0];
        for (path, expected) in [("/", "/team/"), ("/x", "/team/x"), ("/x/", "/team/x/")] {
            let request = RequestPath {
                base: &service.upstream.targets[0].base_path,
                path: of(service, path),
                query: Some("q=1"),
            };
            assert_eq!(request.pieces().concat(), expected, "{path}");
        }
    }
}
