//! The documents shipped with barrack say what it does: README links and excerpts, the OpenAPI
//! document, the help and ops texts that describe the rules.
