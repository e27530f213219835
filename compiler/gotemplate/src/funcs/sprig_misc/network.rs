//! Sprig's `getHostByName`. The compiler is offline and deterministic, so it never resolves
//! names: the function exists (templates that merely mention it still parse and render) and
//! fails when called, where Helm would have queried DNS.

use crate::funcs::{Func, FuncError, FuncMap, Ty};

pub fn register(map: &mut FuncMap) {
    map.insert(
        "getHostByName",
        Func::pure(&[Ty::String], None, |_| {
            Err(FuncError::new("getHostByName is not available offline"))
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::super::testing::{s, show};

    #[test]
    fn refuses_to_resolve() {
        assert_eq!(
            show("getHostByName", &[s("example.com")]),
            Err("getHostByName is not available offline".into())
        );
    }
}
