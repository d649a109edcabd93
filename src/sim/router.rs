//! Which catalog operation a method and path name: the catalog's templates, split once.

use crate::api::catalog::{Method, Op, OPS};
use std::sync::OnceLock;

/// Path placeholders of a routed request, by name.
pub type PathParams = Vec<(&'static str, String)>;

/// One catalog path template, split once.
struct Route {
    op: &'static Op,
    segments: Vec<Segment>,
    literals: usize,
}

enum Segment {
    Literal(&'static str),
    /// A `{name}` placeholder.
    Param(&'static str),
}

impl Route {
    fn matches(&self, segments: &[&str]) -> bool {
        self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(t, s)| match t {
                Segment::Param(_) => !s.is_empty(),
                Segment::Literal(t) => t == s,
            })
    }
}

/// Every operation's template, split once per process (routing runs on every request).
fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        OPS.iter()
            .map(|op| {
                let segments: Vec<Segment> = op
                    .path
                    .trim_matches('/')
                    .split('/')
                    .map(
                        |t| match t.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                            Some(name) => Segment::Param(name),
                            None => Segment::Literal(t),
                        },
                    )
                    .collect();
                let literals = segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                Route {
                    op,
                    segments,
                    literals,
                }
            })
            .collect()
    })
}

fn split(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// Find the operation for a method and path: the template with the most literal segments wins,
/// so `/instances/hibernated/count/` beats `/instances/{id}/`. `Err(true)`: the path exists
/// with other methods (a 405); `Err(false)`: no such path (a 404).
pub fn route(method: Method, path: &str) -> Result<(&'static Op, PathParams), bool> {
    let segments = split(path);
    let mut best: Option<&Route> = None;
    let mut path_known = false;
    for route in routes().iter().filter(|r| r.matches(&segments)) {
        if route.op.method != method {
            path_known = true;
            continue;
        }
        if best.is_none_or(|b| route.literals > b.literals) {
            best = Some(route);
        }
    }
    match best {
        Some(route) => {
            let params = route
                .segments
                .iter()
                .zip(&segments)
                .filter_map(|(t, s)| match t {
                    Segment::Param(name) => Some((*name, s.to_string())),
                    Segment::Literal(_) => None,
                })
                .collect();
            Ok((route.op, params))
        }
        None => Err(path_known),
    }
}

/// The methods some operation takes on `path`, in the order GET, POST, PUT, DELETE: the `Allow`
/// header of a 405. Empty when no operation has the path.
pub fn allowed_methods(path: &str) -> Vec<Method> {
    let segments = split(path);
    let mut found: Vec<Method> = Vec::new();
    for route in routes().iter().filter(|r| r.matches(&segments)) {
        if !found.contains(&route.op.method) {
            found.push(route.op.method);
        }
    }
    [Method::Get, Method::Post, Method::Put, Method::Delete]
        .into_iter()
        .filter(|m| found.contains(m))
        .collect()
}

/// The method of a request, as [`Method::parse`] reads it, without allocating.
pub fn parse_method(text: &str) -> Option<Method> {
    [Method::Get, Method::Post, Method::Put, Method::Delete]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_prefer_literal_segments() {
        let (op, _) = route(Method::Get, "/instances/hibernated/count/")
            .ok()
            .unwrap();
        assert_eq!(op.name, "hibernated_count");
        let (op, _) = route(Method::Get, "/instances/snapshot-eligible/")
            .ok()
            .unwrap();
        assert_eq!(op.name, "snapshot_eligible");
        let (op, params) = route(Method::Get, "/instances/BRK-1VM/").ok().unwrap();
        assert_eq!(op.name, "instance");
        assert_eq!(params, vec![("id", "BRK-1VM".to_string())]);
        let (op, params) = route(Method::Delete, "/firewalls/fw-1/rules/r-2/")
            .ok()
            .unwrap();
        assert_eq!(op.name, "remove_firewall_rule");
        assert_eq!(params[1], ("rule_id", "r-2".to_string()));
        assert_eq!(route(Method::Put, "/balance/").err(), Some(true));
        assert_eq!(route(Method::Get, "/nope/").err(), Some(false));
    }

    #[test]
    fn every_operation_routes_to_itself_and_is_allowed() {
        for op in OPS {
            let path = op.path.replace("{id}", "x1").replace("{rule_id}", "r1");
            let (found, _) = route(op.method, &path).ok().unwrap();
            assert_eq!(found.name, op.name);
            assert!(allowed_methods(&path).contains(&op.method), "{}", op.name);
        }
        assert!(allowed_methods("/nope/").is_empty());
    }
}
