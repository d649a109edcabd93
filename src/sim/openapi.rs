//! The OpenAPI 3 document of the simulated API, generated from the catalog.

use crate::api::catalog::{ArgType, Method, OPS};
use serde_json::{json, Map, Value};

pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let mut operation = json!({
            "operationId": op.name,
            "summary": op.summary,
            "tags": [op.group],
            "responses": {
                "200": {"description": "Success", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Success"}}}},
                "201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Success"}}}},
                "400": error_response("Validation error"),
                "401": error_response("Missing or invalid API key"),
                "404": error_response("Unknown id"),
                "409": error_response("Conflict: duplicate name, wrong state, out of stock"),
                "429": error_response("Rate limited; see Retry-After"),
                "500": error_response("Internal error"),
            },
        });
        let mut parameters: Vec<Value> = op
            .path_params()
            .into_iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if op.paginated {
            for p in ["page", "per_page"] {
                parameters.push(json!({"name": p, "in": "query", "required": false,
                                       "schema": {"type": "integer", "minimum": 1}}));
            }
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        let body_fields: Vec<&str> = op
            .args
            .iter()
            .filter(|a| !op.path_params().contains(&a.field) && a.ty != ArgType::Map)
            .map(|a| a.field)
            .collect();
        let takes_body = op.method != Method::Get
            && (op.args.iter().any(|a| a.ty == ArgType::Map) || !body_fields.is_empty());
        if takes_body {
            let properties: Map<String, Value> = op
                .args
                .iter()
                .filter(|a| body_fields.contains(&a.field))
                .map(|a| {
                    let schema = match a.ty {
                        ArgType::Int => json!({"type": "integer"}),
                        ArgType::Targets(_) => {
                            json!({"type": "array", "items": {"type": "string"}})
                        }
                        _ => json!({"type": "string"}),
                    };
                    (a.field.to_string(), schema)
                })
                .collect();
            operation["requestBody"] = json!({
                "required": op.required > 0,
                "content": {"application/json": {"schema": {
                    "type": "object", "properties": properties, "additionalProperties": true}}},
            });
        }
        if let Some(map) = entry.as_object_mut() {
            map.insert(op.method.as_str().to_ascii_lowercase(), operation);
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Barrack API (barrack simulator)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Generated from barrack's operation catalog (src/api/catalog.rs). The public reference prints few paths; most here are barrack's choice, and `barrack ops --json` with `--catalog FILE` corrects one without a rebuild.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Success": {"type": "object", "required": ["success"], "properties": {
                    "success": {"type": "boolean"}, "data": {}, "pagination": {"$ref": "#/components/schemas/Pagination"},
                    "request_id": {"type": "string"}, "tier": {"$ref": "#/components/schemas/TierEnum"}}},
                "Pagination": {"type": "object", "properties": {
                    "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"},
                    "total_pages": {"type": "integer"}, "has_next": {"type": "boolean"}}},
                "TierEnum": {"type": "string", "enum": ["advanced", "legacy"]},
                "ErrorResponse": {"type": "object", "required": ["success", "message", "code", "request_id", "tier"], "properties": {
                    "success": {"type": "boolean"}, "message": {"type": "string"}, "code": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                    "request_id": {"type": "string"}, "tier": {"$ref": "#/components/schemas/TierEnum"}}},
            },
        },
    })
}

fn error_response(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}})
}
