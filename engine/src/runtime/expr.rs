//! Edge conditions: CEL over the instance context and the finished node's output.

use serde_json::Value;

/// Whether `condition` holds. Variables: `context`, `output`, and each field of an object
/// output by its own name (so `outcome == 'approve'` reads the approval's outcome).
pub fn holds(condition: &str, context: &Value, output: &Value) -> Result<bool, String> {
    let program = cel::Program::compile(condition)
        .map_err(|e| format!("condition `{condition}` does not compile: {e}"))?;
    let mut scope = cel::Context::default();
    if let Value::Object(fields) = output {
        for (name, value) in fields {
            scope
                .add_variable(name.as_str(), value)
                .map_err(|e| format!("output field `{name}`: {e}"))?;
        }
    }
    scope
        .add_variable("context", context)
        .map_err(|e| format!("context: {e}"))?;
    scope
        .add_variable("output", output)
        .map_err(|e| format!("output: {e}"))?;
    match program.execute(&scope) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "condition `{condition}` gave {other:?}, not true or false"
        )),
        Err(e) => Err(format!("condition `{condition}` failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::holds;

    #[test]
    fn conditions_see_context_output_and_output_fields() {
        let context = json!({"size": 5});
        let output = json!({"outcome": "approve"});
        assert_eq!(holds("context.size > 3", &context, &output), Ok(true));
        assert_eq!(holds("outcome == 'approve'", &context, &output), Ok(true));
        assert_eq!(
            holds("output.outcome == 'reject'", &context, &output),
            Ok(false)
        );
        assert!(holds("context.size", &context, &output).is_err());
        assert!(holds("nope.x == 1", &context, &output).is_err());
    }
}
