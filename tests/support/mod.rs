pub mod auth0_fixture;
pub mod recordings;
pub mod scan;
