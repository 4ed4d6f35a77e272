//! Any input: `manifest::parse` returns Ok or located diagnostics, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(errors) = auth0_rotate::manifest::parse(std::path::Path::new("fuzz.yml"), text) {
            for d in &errors.diagnostics {
                assert!(d.line >= 1 && d.column >= 1);
            }
            let _ = errors.to_string();
        }
    }
});
