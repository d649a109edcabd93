//! The bundled recipes, compiled into the binary: `import "barrack/NAME"`, `stdlib:NAME`.

/// Name, one-line summary, source.
pub const RECIPES: &[(&str, &str, &str)] = &[];

pub fn source(name: &str) -> Option<&'static str> {
    RECIPES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, src)| *src)
}

pub fn names() -> impl Iterator<Item = &'static str> {
    RECIPES.iter().map(|(n, _, _)| *n)
}
