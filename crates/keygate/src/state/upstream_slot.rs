//! A place in each snapshot for the proxy's upstreams (targets, timeouts and connection
//! pools): the proxy defines their type and fills the place, the state only holds it, so
//! that the state depends on nothing of the proxy (proxy → state → store).

use std::any::Any;
use std::sync::OnceLock;

/// Holds one value of a type the state does not name, built once, on first use.
#[derive(Default)]
pub struct UpstreamSlot(OnceLock<Box<dyn Any + Send + Sync>>);

impl UpstreamSlot {
    /// The value, built by `build` on the first call; `None` only if a value of another
    /// type was put here first.
    pub fn get_or_fill<T: Any + Send + Sync>(&self, build: impl FnOnce() -> T) -> Option<&T> {
        self.0.get_or_init(|| Box::new(build())).downcast_ref()
    }

    /// The value if it was built, and is a `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0.get()?.downcast_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_built_once_and_read_back_by_its_type() {
        let slot = UpstreamSlot::default();
        assert_eq!(slot.get::<Vec<u8>>(), None, "nothing before the first use");
        assert_eq!(slot.get_or_fill(|| vec![1u8]), Some(&vec![1u8]));
        assert_eq!(
            slot.get_or_fill(|| vec![2u8]),
            Some(&vec![1u8]),
            "built once"
        );
        assert_eq!(slot.get::<Vec<u8>>(), Some(&vec![1u8]));
        assert_eq!(slot.get::<String>(), None, "another type is not there");
    }
}
