//! Phase 1's path check: a path not in normal form replaced, a normal one left where it
//! lies, an ambiguous one refused; in a front proxy's check, a path the upstream could
//! read otherwise refused too.

use super::*;

fn head(target: &str) -> Parts {
    http::Request::get(target).body(()).unwrap().into_parts().0
}

#[test]
fn a_path_not_in_normal_form_is_replaced_and_the_rest_of_the_target_kept() {
    let mut request = head("http://shop.example.com:8080/orders//%72eport?x=%2e%2E");
    assert_eq!(check_request(&mut request, 1024, Mode::Proxy), Ok(true));
    assert_eq!(
        request.uri.to_string(),
        "http://shop.example.com:8080/orders/report?x=%2e%2E"
    );
    let mut request = head("/orders/./report");
    assert_eq!(check_request(&mut request, 1024, Mode::Proxy), Ok(true));
    assert_eq!(request.uri.to_string(), "/orders/report");
}

#[test]
fn a_normal_path_is_left_where_it_lies() {
    let mut request = head("/orders/report?x=1");
    let before = request.uri.path().as_ptr();
    assert_eq!(check_request(&mut request, 1024, Mode::Proxy), Ok(false));
    assert_eq!(request.uri.path().as_ptr(), before);
}

#[test]
fn an_ambiguous_path_is_refused() {
    for target in ["/orders/..%2freport", "/..", "/a/..;x", "*"] {
        let mut request = head(target);
        assert_eq!(
            check_request(&mut request, 1024, Mode::Proxy),
            Err(ProxyError::BadPath),
            "{target}"
        );
    }
}

#[test]
fn a_check_of_a_path_not_in_normal_form_is_refused() {
    let check = Mode::Authz(Shape::Nginx);
    for target in [
        "/admin/../public/x",
        "/admin/%2e%2e/public/x",
        "/admin//../public/x",
        "/admin//x",
        "/admin/./x",
        "/%61dmin/x",
        "/admin/x/..",
    ] {
        let mut request = head(target);
        assert_eq!(
            check_request(&mut request, 1024, check),
            Err(ProxyError::BadPath),
            "{target}"
        );
        // The proxy forwards the normal form instead.
        let mut request = head(target);
        assert_eq!(check_request(&mut request, 1024, Mode::Proxy), Ok(true));
    }
    for shape in Shape::ALL {
        let mut request = head("/a//b");
        let refused = check_request(&mut request, 1024, Mode::Authz(shape));
        assert_eq!(refused, Err(ProxyError::BadPath), "{shape:?}");
    }
}

#[test]
fn a_check_whose_escapes_differ_only_in_case_is_decided_on_the_normal_form() {
    let mut request = head("/caf%c3%a9/x?q=%c3");
    assert_eq!(
        check_request(&mut request, 1024, Mode::Authz(Shape::ForwardAuth)),
        Ok(true)
    );
    assert_eq!(request.uri.to_string(), "/caf%C3%A9/x?q=%c3");
    let mut request = head("/public/x?next=/../admin");
    assert_eq!(
        check_request(&mut request, 1024, Mode::Authz(Shape::Nginx)),
        Ok(false),
        "the query is not the path"
    );
}
