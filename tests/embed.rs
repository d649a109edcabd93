//! `examples/embed.rs` runs as part of the tests: the library surface it uses is the product.

#[path = "../examples/embed.rs"]
mod example;

#[test]
fn the_embedding_example_runs() {
    example::main().unwrap_or_else(|e| panic!("examples/embed.rs failed: {e}"));
}
