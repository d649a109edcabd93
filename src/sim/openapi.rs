//! The OpenAPI 3 document of the simulated API, generated from the catalog.

use crate::api::catalog::{ArgType, Method, OPS};
use crate::api::check::request_shape;
use crate::api::shape::{Field, FieldType, Rule, Tier};
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
        // Query parameters of a GET, or the body: positional arguments and the map's keys.
        let shape = request_shape(op);
        if op.method == Method::Get {
            for field in &shape {
                parameters.push(json!({"name": field.name, "in": "query", "required": false,
                                       "description": field.doc, "schema": schema(field)}));
            }
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        let mut properties = Map::new();
        let mut required: Vec<&str> = Vec::new();
        if op.method != Method::Get {
            for field in &shape {
                properties.insert(field.name.to_string(), schema(field));
                if field.required {
                    required.push(field.name);
                }
            }
        }
        let takes_body = op.method != Method::Get
            && (!properties.is_empty() || op.args.iter().any(|a| a.ty == ArgType::Map));
        if takes_body {
            operation["requestBody"] = json!({
                "required": !required.is_empty(),
                "content": {"application/json": {"schema": {
                    "type": "object", "properties": properties, "required": required,
                    // The simulator refuses any other field (400 VALIDATION_ERROR naming it).
                    "additionalProperties": false}}},
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

/// The JSON schema of one key of a request shape.
fn schema(field: &Field) -> Value {
    let mut schema = match field.ty {
        FieldType::Text | FieldType::Id(_) => json!({"type": "string"}),
        FieldType::Int => json!({"type": "integer"}),
        FieldType::Number => json!({"type": "number"}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Ids(_) => json!({"type": "array", "items": {"type": "string"}}),
        FieldType::Maps(inner) => {
            let properties: Map<String, Value> = inner
                .iter()
                .map(|f| (f.name.to_string(), self::schema(f)))
                .collect();
            let required: Vec<&str> = inner
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name)
                .collect();
            json!({"type": "array", "items": {"type": "object", "properties": properties,
                   "required": required, "additionalProperties": false}})
        }
    };
    match field.rule {
        Rule::OneOf(values, _) | Rule::OneOfAnyCase(values, _) => {
            schema["enum"] = json!(values);
        }
        Rule::Range(low, high) => {
            schema["minimum"] = json!(low);
            if high < i64::MAX {
                schema["maximum"] = json!(high);
            }
        }
        Rule::Counts(values) => schema["enum"] = json!(values),
        _ => {}
    }
    let mut description = field.doc.to_string();
    if !field.default.is_empty() {
        description.push_str(&format!("; default {}", field.default));
    }
    if field.tier != Tier::Both {
        description.push_str(&format!("; {} regions only", field.tier.as_str()));
    }
    if field.chosen {
        description.push_str(" (chosen by barrack: the reference does not print it)");
    }
    schema["description"] = json!(description);
    schema
}

fn error_response(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}})
}
