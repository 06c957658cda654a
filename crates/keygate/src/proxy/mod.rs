//! The data plane: accept connections, and for each request route → authenticate →
//! authorize → forward → log. `docs/request-path.md` draws the phases.

pub mod admission;
pub mod authz;
pub mod body_key;
pub mod chunked;
mod cors;
pub mod downstream;
pub mod error;
pub mod exact_check;
pub mod facts;
pub mod field_lookup;
pub mod field_maps;
pub mod field_names;
pub mod forward;
pub mod forward_path;
pub mod grpc_status;
pub mod handler;
pub mod health_checks;
pub mod http2;
pub mod https_redirect;
pub mod identity_fields;
pub mod key_source;
pub mod limit_check;
pub mod limit_headers;
pub mod number_text;
pub mod path_normal;
pub mod protocol;
pub mod quota_check;
pub mod read_buffer;
mod refusal;
pub mod request_id;
pub mod respond;
pub mod server;
pub mod trace_context;
pub mod turn_clock;
pub mod upstream;
pub mod upstreams;
pub mod workers;

use http_body_util::Either;

use respond::ErrorBody;
use upstream::UpstreamBody;

/// A response body: from the upstream, or the gateway's own error body.
pub type ProxyBody = Either<UpstreamBody, ErrorBody>;
