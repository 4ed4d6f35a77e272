use base64::Engine;

use super::KeyError;

/// One `-----BEGIN X-----` … `-----END X-----` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    /// The label, e.g. `PUBLIC KEY`.
    pub label: String,
    /// The decoded DER bytes.
    pub der: Vec<u8>,
}

/// Decodes every PEM block in `text`, in order. Tolerates CRLF line ends and
/// surrounding text (Auth0 returns certificates ending in `\r\n`).
pub fn pem_blocks(text: &str) -> Result<Vec<PemBlock>, KeyError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            if inner == end {
                closed = true;
                break;
            }
            body.push_str(inner);
        }
        if !closed {
            return Err(KeyError::Pem(format!("missing `{end}`")));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| KeyError::Pem(format!("bad base64 in {label} block: {e}")))?;
        blocks.push(PemBlock {
            label: label.to_owned(),
            der,
        });
    }
    Ok(blocks)
}

/// Encodes DER as PEM with 64-column lines and a trailing newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_crlf() {
        let pem = encode("PUBLIC KEY", &[1, 2, 3, 250]).replace('\n', "\r\n");
        let blocks = pem_blocks(&format!("junk\r\n{pem}")).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "PUBLIC KEY");
        assert_eq!(blocks[0].der, vec![1, 2, 3, 250]);
    }

    #[test]
    fn unterminated_block_is_an_error() {
        assert!(pem_blocks("-----BEGIN PUBLIC KEY-----\nAAAA\n").is_err());
    }
}
