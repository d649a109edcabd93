//! What barrack refuses, and how: bad input of every kind ends in a clear error naming the object
//! and the fix, changes nothing, and never panics.
//!
//! - `corpus`: invalid names, sizes, JSON, wrong-state calls, malformed scripts, flags, files,
//!   configuration and garbage server answers, each with its exit code.
//! - `strict_keys`: a misspelled key in any map a function takes is refused before any request,
//!   naming the closest key.

mod corpus;
mod strict_keys;
