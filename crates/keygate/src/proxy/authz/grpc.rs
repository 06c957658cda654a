//! Envoy's gRPC `ext_authz` (`envoy.service.auth.v3.Authorization/Check`): to come.
