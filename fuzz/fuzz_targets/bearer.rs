//! The bearer/JWT path every agent request goes through: any `Authorization` value is
//! refused or accepted without a panic, and only a token this issuer signed is accepted.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use runtime::identity::AgentVerifier;

struct Target {
    rt: tokio::runtime::Runtime,
    verifier: AgentVerifier,
    _dir: tempfile::TempDir,
}

fn target() -> &'static Target {
    static T: OnceLock<Target> = OnceLock::new();
    T.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a folder");
        let store = runtime::Store::folder(dir.path()).expect("a store");
        let issuer = rt.block_on(runtime::Issuer::of(&store)).expect("an issuer");
        Target {
            rt,
            verifier: AgentVerifier::new(Arc::new(issuer), None),
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let t = target();
    let _ = t.rt.block_on(t.verifier.verify_header(Some(data)));
});
