//! A list's query filters, tested on the typed object: one named top-level field of the
//! object's API view is compared with the query's text as the JSON would show it, without
//! writing any JSON. The view's `Serialize` is the one description of its fields, so a filter
//! can never see a field the answer does not show, or miss one it does.

use serde::ser::{self, Impossible, Serialize, Serializer};

/// Whether `item`'s field `key` reads as `want`: a string equal to it, a number or boolean
/// whose JSON text is it. A field the item does not show, `null`, or a list or object does
/// not filter (the simulator's long-standing rule: only scalars are compared).
pub fn field_matches(item: &impl Serialize, key: &str, want: &str) -> bool {
    item.serialize(Probe { key, want }).unwrap_or(true)
}

/// Why a value cannot be compared; the probe then lets the item through.
#[derive(Debug)]
pub struct NotScalar;

impl std::fmt::Display for NotScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a scalar")
    }
}

impl std::error::Error for NotScalar {}

impl ser::Error for NotScalar {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotScalar
    }
}

/// Walks a struct's fields (or a JSON object's entries) for the one named `key`.
struct Probe<'q> {
    key: &'q str,
    want: &'q str,
}

/// The struct or object being walked, and the verdict once its field `key` was seen.
struct Fields<'q> {
    key: &'q str,
    want: &'q str,
    verdict: Option<bool>,
    /// An object's entry: whether the key just written is `key`.
    at_key: bool,
}

impl Fields<'_> {
    fn look_at(&mut self, value: &(impl Serialize + ?Sized)) {
        if self.verdict.is_none() {
            self.verdict = Some(value.serialize(Scalar(self.want)).unwrap_or(true));
        }
    }
}

impl ser::SerializeStruct for Fields<'_> {
    type Ok = bool;
    type Error = NotScalar;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), NotScalar> {
        if name == self.key {
            self.look_at(value);
        }
        Ok(())
    }

    fn end(self) -> Result<bool, NotScalar> {
        Ok(self.verdict.unwrap_or(true))
    }
}

/// The items of a `list` of JSON values are objects, walked the same way.
impl ser::SerializeMap for Fields<'_> {
    type Ok = bool;
    type Error = NotScalar;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), NotScalar> {
        self.at_key = key.serialize(Scalar(self.key)).unwrap_or(false);
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), NotScalar> {
        if std::mem::take(&mut self.at_key) {
            self.look_at(value);
        }
        Ok(())
    }

    fn end(self) -> Result<bool, NotScalar> {
        Ok(self.verdict.unwrap_or(true))
    }
}

/// An item that is neither a struct nor an object has no fields: it is not filtered.
macro_rules! not_a_struct {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<bool, NotScalar> { Err(NotScalar) })*
    };
}

/// What neither probe looks into: sequences, tuples and enum variants with data.
macro_rules! refuse_compounds {
    () => {
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<bool, NotScalar> {
            Err(NotScalar)
        }

        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotScalar> {
            Err(NotScalar)
        }

        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotScalar> {
            Err(NotScalar)
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, NotScalar> {
            Err(NotScalar)
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, NotScalar> {
            Err(NotScalar)
        }

        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, NotScalar> {
            Err(NotScalar)
        }
    };
}

impl<'q> Serializer for Probe<'q> {
    type Ok = bool;
    type Error = NotScalar;
    type SerializeSeq = Impossible<bool, NotScalar>;
    type SerializeTuple = Impossible<bool, NotScalar>;
    type SerializeTupleStruct = Impossible<bool, NotScalar>;
    type SerializeTupleVariant = Impossible<bool, NotScalar>;
    type SerializeMap = Fields<'q>;
    type SerializeStruct = Fields<'q>;
    type SerializeStructVariant = Impossible<bool, NotScalar>;

    refuse_compounds!();

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields<'q>, NotScalar> {
        Ok(Fields {
            key: self.key,
            want: self.want,
            verdict: None,
            at_key: false,
        })
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Fields<'q>, NotScalar> {
        self.serialize_struct("", 0)
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<bool, NotScalar> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, NotScalar> {
        value.serialize(self)
    }

    not_a_struct! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_none(), serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }
}

/// Compares one field's value with the query's text; `Err` for what is not a scalar.
struct Scalar<'q>(&'q str);

impl Scalar<'_> {
    /// A number matches when its JSON text is the query's text (`2` is not `2.0`, nor `02`).
    fn number(self, text: impl std::fmt::Display) -> Result<bool, NotScalar> {
        Ok(text.to_string() == self.0)
    }
}

/// Integers compare as the number they write.
macro_rules! integers_as_numbers {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<bool, NotScalar> { self.number(v) })*
    };
}

impl Serializer for Scalar<'_> {
    type Ok = bool;
    type Error = NotScalar;
    type SerializeSeq = Impossible<bool, NotScalar>;
    type SerializeTuple = Impossible<bool, NotScalar>;
    type SerializeTupleStruct = Impossible<bool, NotScalar>;
    type SerializeTupleVariant = Impossible<bool, NotScalar>;
    type SerializeMap = Impossible<bool, NotScalar>;
    type SerializeStruct = Impossible<bool, NotScalar>;
    type SerializeStructVariant = Impossible<bool, NotScalar>;

    refuse_compounds!();

    fn serialize_str(self, v: &str) -> Result<bool, NotScalar> {
        Ok(v == self.0)
    }

    fn serialize_char(self, v: char) -> Result<bool, NotScalar> {
        Ok(self.0.chars().eq(std::iter::once(v)))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<bool, NotScalar> {
        Ok(variant == self.0)
    }

    fn serialize_bool(self, v: bool) -> Result<bool, NotScalar> {
        Ok(self.0 == if v { "true" } else { "false" })
    }

    integers_as_numbers! {
        serialize_i8(i8), serialize_i16(i16), serialize_i32(i32), serialize_i64(i64),
        serialize_u8(u8), serialize_u16(u16), serialize_u32(u32), serialize_u64(u64),
    }

    fn serialize_f32(self, v: f32) -> Result<bool, NotScalar> {
        self.serialize_f64(f64::from(v))
    }

    /// Written as serde_json writes it; NaN and infinities are written `null`, which does not
    /// filter.
    fn serialize_f64(self, v: f64) -> Result<bool, NotScalar> {
        match serde_json::Number::from_f64(v) {
            Some(n) => self.number(n),
            None => Err(NotScalar),
        }
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<bool, NotScalar> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, NotScalar> {
        value.serialize(self)
    }

    fn serialize_none(self) -> Result<bool, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_unit(self) -> Result<bool, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<bool, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<bool, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotScalar> {
        Err(NotScalar)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, NotScalar> {
        Err(NotScalar)
    }
}

#[cfg(test)]
mod tests {
    use super::field_matches;
    use serde::Serialize;
    use serde_json::json;

    #[derive(Serialize)]
    struct Item<'a> {
        name: &'a str,
        count: i64,
        cost: f64,
        on: bool,
        #[serde(rename = "type")]
        kind: &'a str,
        parent: Option<&'a str>,
        tags: Vec<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        hidden: Option<&'a str>,
    }

    fn item() -> Item<'static> {
        Item {
            name: "train-1",
            count: 8,
            cost: 2.5,
            on: true,
            kind: "NVMe",
            parent: None,
            tags: vec!["a"],
            hidden: None,
        }
    }

    /// The probe's verdict is the one the item's JSON gives, field by field.
    #[test]
    fn a_field_matches_as_its_json_text_would() {
        let item = item();
        let json = serde_json::to_value(&item).expect("an item serialises");
        let cases = [
            ("name", "train-1", true),
            ("name", "train-2", false),
            ("count", "8", true),
            ("count", "08", false),
            ("cost", "2.5", true),
            ("cost", "2.50", false),
            ("on", "true", true),
            ("on", "1", false),
            ("type", "NVMe", true),
            ("kind", "HDD", true),
            ("parent", "x", true),
            ("tags", "a", true),
            ("hidden", "x", true),
            ("absent", "x", true),
        ];
        for (key, want, expected) in cases {
            assert_eq!(field_matches(&item, key, want), expected, "{key}={want}");
            let by_json = match json.get(key) {
                Some(serde_json::Value::String(s)) => s == want,
                Some(serde_json::Value::Number(n)) => n.to_string() == want,
                Some(serde_json::Value::Bool(b)) => b.to_string() == want,
                _ => true,
            };
            assert_eq!(expected, by_json, "{key}={want} against {json}");
        }
    }

    #[test]
    fn a_json_object_is_probed_like_a_struct() {
        let item = json!({"model": "llama", "tokens": 12, "meta": {"model": "x"}});
        assert!(field_matches(&item, "model", "llama"));
        assert!(!field_matches(&item, "model", "x"));
        assert!(field_matches(&item, "tokens", "12"));
        assert!(field_matches(&item, "meta", "anything"));
        assert!(field_matches(&json!("text"), "model", "x"));
    }

    #[test]
    fn a_json_value_field_is_compared_when_it_is_a_scalar() {
        #[derive(Serialize)]
        struct Holder {
            source: serde_json::Value,
            status: serde_json::Value,
        }
        let holder = Holder {
            source: json!({"type": "os_image"}),
            status: json!("ACTIVE"),
        };
        assert!(field_matches(&holder, "source", "os_image"));
        assert!(field_matches(&holder, "status", "ACTIVE"));
        assert!(!field_matches(&holder, "status", "SHUTOFF"));
    }
}
