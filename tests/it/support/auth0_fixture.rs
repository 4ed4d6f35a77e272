//! A running emulator seeded with one tenant, a management client and an app.
#![allow(dead_code)]

use auth0_rotate::auth0::{HttpAuth0, ManagementAuth};
use auth0_rotate::emulator::auth0::{ROTATION_SCOPES, SECRET_SCOPES};
use auth0_rotate::emulator::{Emulator, RunningEmulator};
use auth0_rotate::keys::{Alg, KeySize, PrivateKey};

pub const DOMAIN: &str = "acme.test.auth0.com";
pub const APP: &str = "app_client_0123456789";
pub const API: &str = "https://api.acme.test/";

pub struct Fixture {
    pub emu: RunningEmulator,
    pub mgmt: HttpAuth0,
    pub key: PrivateKey,
    pub cred_id: String,
}

pub async fn start() -> Fixture {
    let emu = Emulator::new().start_local().await.unwrap();
    let a = &emu.emulator.auth0;
    a.create_tenant(DOMAIN);
    a.create_client(DOMAIN, "mgmt", "rotation bot", Some("mgmt-secret"))
        .unwrap();
    let scopes: Vec<&str> = ROTATION_SCOPES
        .iter()
        .chain(SECRET_SCOPES)
        .copied()
        .collect();
    a.grant(
        DOMAIN,
        "mgmt",
        &format!("https://{DOMAIN}/api/v2/"),
        &scopes,
    )
    .unwrap();
    a.create_client(DOMAIN, APP, "billing worker", Some("app-secret"))
        .unwrap();
    a.grant(DOMAIN, APP, API, &["read:invoices"]).unwrap();
    let key = PrivateKey::generate(KeySize::Rsa2048).unwrap();
    let cred = a
        .add_credential(DOMAIN, APP, "seed", key.public_key_pem(), Alg::RS256, true)
        .unwrap();
    let mgmt = HttpAuth0::new(
        DOMAIN,
        Some(&emu.auth0_base_url(DOMAIN)),
        ManagementAuth::ClientSecret {
            client_id: "mgmt".into(),
            secret: "mgmt-secret".into(),
        },
    )
    .unwrap();
    Fixture {
        emu,
        mgmt,
        key,
        cred_id: cred.id,
    }
}
