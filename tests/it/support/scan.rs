//! A scanner for private key material in captured output.
#![allow(dead_code)]

/// Fails if `haystack` contains a PEM private-key header, a line shaped like
/// a PEM body line, or any 32-character window of the base64 body of one of
/// `keys` (PKCS#8 PEM texts).
pub fn assert_clean(haystack: &str, keys: &[String], context: &str) {
    assert!(
        !haystack.contains("PRIVATE KEY"),
        "{context}: a PEM private-key header leaked"
    );
    assert!(
        !haystack.contains("private_key_pem"),
        "{context}: a JSON key secret leaked"
    );
    let mut in_age = false;
    for line in haystack.lines() {
        let l = line.trim();
        // age armor is ciphertext: its body lines look like PEM, by design.
        if l.ends_with("-----BEGIN AGE ENCRYPTED FILE-----") {
            in_age = true;
        }
        if l.ends_with("-----END AGE ENCRYPTED FILE-----") {
            in_age = false;
        }
        if in_age {
            continue;
        }
        let pem_like = l.len() == 64
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        assert!(!pem_like, "{context}: a PEM body line leaked: {l}");
    }
    for key in keys {
        let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(body.len() > 1000, "not a key: {context}");
        for start in (0..body.len() - 32).step_by(16) {
            let window = &body[start..start + 32];
            assert!(
                !haystack.contains(window),
                "{context}: key bytes leaked (offset {start})"
            );
        }
    }
}
