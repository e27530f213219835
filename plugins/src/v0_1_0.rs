//! The host side of contract 0.1.0 (`wit/since_v0.1.0/resolver.wit`): the generated bindings.
//! A later contract version gets its own module beside this one; this one never changes.

mod bindings {
    wasmtime::component::bindgen!({
        world: "resolver",
        path: "wit/since_v0.1.0",
    });
}

pub(crate) use bindings::{Resolver, ResolverPre};
