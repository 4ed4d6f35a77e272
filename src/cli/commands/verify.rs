//! `verify`: the consumer canary — one real token exchange with the key a
//! consumer reads from its secret.

use crate::action::canary::{self, CanaryRequest};
use crate::cli::{key_from_env, VerifyArgs};
use crate::keys::Alg;
use crate::secret::SecretString;

/// Runs `verify`.
pub async fn run(args: VerifyArgs) -> anyhow::Result<i32> {
    let alg = match args.alg.as_deref() {
        Some(a) => Some(Alg::from_name(a).ok_or_else(|| anyhow::anyhow!("unknown --alg {a:?}"))?),
        None => None,
    };
    let key = match &args.key_file {
        Some(path) => SecretString::new(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        ),
        None => key_from_env(&args.key_env)?,
    };
    let req = CanaryRequest {
        key,
        client_id: args.client_id,
        audience: args.audience,
        domain: args.domain,
        base_url: args.base_url,
        alg,
    };
    match canary::verify(&req).await {
        Ok(r) => {
            crate::outln!(
                "ok: client {} obtained a token for {} (kid {}, {}, expires in {} s)",
                r.client_id,
                req.audience,
                r.kid,
                r.alg,
                r.expires_in
            );
            Ok(0)
        }
        Err(e) => {
            crate::errln!("verify failed: {}", failure(&e));
            Ok(1)
        }
    }
}

/// The canary's failure as the CLI reports it: an Auth0 that could not be
/// reached is named once, with the options to check.
fn failure(e: &canary::CanaryError) -> String {
    match e {
        canary::CanaryError::Unreachable { source, .. } if source.unreachable_url().is_some() => {
            format!(
                "{source}; nothing is known about the key — check --base-url and --domain, then run again"
            )
        }
        e => e.to_string(),
    }
}
