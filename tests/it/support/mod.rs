pub mod auth0_fixture;
pub mod crash;
pub mod openapi;
pub mod recordings;
pub mod scan;
pub mod world;
