//! Checks sent straight to keygate in each front proxy's shape: to come.
