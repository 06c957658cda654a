//! Phase 1's path check: a path not in normal form replaced, a normal one left where it
//! lies, an ambiguous one refused.

use super::*;

fn head(target: &str) -> Parts {
    http::Request::get(target).body(()).unwrap().into_parts().0
}

#[test]
fn a_path_not_in_normal_form_is_replaced_and_the_rest_of_the_target_kept() {
    let mut request = head("http://shop.example.com:8080/orders//%72eport?x=%2e%2E");
    assert_eq!(check_request(&mut request, 1024), Ok(true));
    assert_eq!(
        request.uri.to_string(),
        "http://shop.example.com:8080/orders/report?x=%2e%2E"
    );
    let mut request = head("/orders/./report");
    assert_eq!(check_request(&mut request, 1024), Ok(true));
    assert_eq!(request.uri.to_string(), "/orders/report");
}

#[test]
fn a_normal_path_is_left_where_it_lies() {
    let mut request = head("/orders/report?x=1");
    let before = request.uri.path().as_ptr();
    assert_eq!(check_request(&mut request, 1024), Ok(false));
    assert_eq!(request.uri.path().as_ptr(), before);
}

#[test]
fn an_ambiguous_path_is_refused() {
    for target in ["/orders/..%2freport", "/..", "/a/..;x", "*"] {
        let mut request = head(target);
        assert_eq!(
            check_request(&mut request, 1024),
            Err(ProxyError::BadPath),
            "{target}"
        );
    }
}
