//! Input and output mappings: JSONPath reads from one document, singular-path writes into another.

use serde_json::{Map, Value};

use crate::definition::path::{self, Segment};
use crate::definition::Mapping;

/// Applies `mappings` reading from `source` and writing into `target`, both documents whose top
/// level holds the roots (`{"context": …}`, `{"input": …}`, `{"output": …}`). A query that finds
/// one value writes it; several write them as a list; none writes nothing.
pub fn apply(mappings: &[Mapping], source: &Value, target: &mut Value) -> Result<(), String> {
    for mapping in mappings {
        let query = path::parse(&mapping.source)?;
        let found = query.query(source).all();
        let value = match found.as_slice() {
            [] => continue,
            [one] => (*one).clone(),
            many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
        };
        let segments = path::singular(&mapping.target)
            .ok_or_else(|| format!("`{}` is not a place to write", mapping.target))?;
        write(target, &segments, value)?;
    }
    Ok(())
}

/// Writes `value` at `segments`, creating objects (and padding lists with nulls) on the way.
pub fn write(doc: &mut Value, segments: &[Segment], value: Value) -> Result<(), String> {
    let Some((last, parents)) = segments.split_last() else {
        *doc = value;
        return Ok(());
    };
    let mut here = doc;
    for (i, segment) in parents.iter().enumerate() {
        let next_is_index = matches!(segments.get(i + 1), Some(Segment::Index(_)));
        here = step_into(here, segment, next_is_index)?;
    }
    match last {
        Segment::Key(key) => {
            if !here.is_object() {
                *here = Value::Object(Map::new());
            }
            if let Value::Object(map) = here {
                map.insert(key.clone(), value);
            }
        }
        Segment::Index(index) => {
            let list = as_list(here, *index)?;
            list[*index] = value;
        }
    }
    Ok(())
}

/// Most list slots a write may create, so a mapping cannot allocate without bound.
const MAX_INDEX: usize = 10_000;

fn step_into<'a>(
    here: &'a mut Value,
    segment: &Segment,
    list_next: bool,
) -> Result<&'a mut Value, String> {
    let empty = || {
        if list_next {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        }
    };
    match segment {
        Segment::Key(key) => {
            if !here.is_object() {
                *here = Value::Object(Map::new());
            }
            match here {
                Value::Object(map) => Ok(map.entry(key.clone()).or_insert_with(empty)),
                _ => Err("unreachable: just made an object".into()),
            }
        }
        Segment::Index(index) => {
            let list = as_list(here, *index)?;
            let slot = &mut list[*index];
            if slot.is_null() {
                *slot = empty();
            }
            Ok(slot)
        }
    }
}

/// `here` as a list with a slot at `index` (padded with nulls), made a list if it was not one.
fn as_list(here: &mut Value, index: usize) -> Result<&mut Vec<Value>, String> {
    if index > MAX_INDEX {
        return Err(format!("list index {index} is beyond {MAX_INDEX}"));
    }
    if !here.is_array() {
        *here = Value::Array(Vec::new());
    }
    match here {
        Value::Array(list) => {
            if list.len() <= index {
                list.resize(index + 1, Value::Null);
            }
            Ok(list)
        }
        _ => Err("unreachable: just made a list".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping(source: &str, target: &str) -> Mapping {
        Mapping {
            source: source.into(),
            target: target.into(),
        }
    }

    #[test]
    fn copies_found_values_into_new_places() {
        let source = json!({"context": {"size": 3, "hosts": [{"ip": "a"}, {"ip": "b"}]}});
        let mut target = json!({"input": {}});
        apply(
            &[
                mapping("$.context.size", "$.input.size"),
                mapping("$.context.hosts[*].ip", "$.input.ips"),
                mapping("$.context.missing", "$.input.nothing"),
                mapping("$.context.size", "$.input.deep.list[2]"),
            ],
            &source,
            &mut target,
        )
        .expect("applies");
        assert_eq!(
            target,
            json!({"input": {"size": 3, "ips": ["a", "b"], "deep": {"list": [null, null, 3]}}})
        );
    }

    #[test]
    fn huge_indices_are_refused() {
        let mut target = json!({});
        let segments = path::singular("$.x[99999999]").expect("singular");
        assert!(write(&mut target, &segments, json!(1)).is_err());
    }
}
