pub mod auth0_fixture;
pub mod openapi;
pub mod recordings;
pub mod scan;
