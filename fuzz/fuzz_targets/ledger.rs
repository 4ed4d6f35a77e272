//! Any input: ledger and journal parsers return Ok or an error, never panic,
//! and what parses renders and parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(entry) = auth0_rotate::ledger::LedgerEntry::parse("fuzz.yml", text) {
            let again = auth0_rotate::ledger::LedgerEntry::parse("fuzz.yml", &entry.render()).unwrap();
            assert_eq!(entry, again);
        }
        let _ = auth0_rotate::journal::Journal::parse("fuzz.yml", text);
    }
});
