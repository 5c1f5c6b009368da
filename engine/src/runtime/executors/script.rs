//! Script nodes: Rhai, sandboxed. Rhai has no file, network or process access; this bounds the
//! operations, the sizes of strings, lists and maps, the call depth and the wall time, and runs
//! the script off the async workers.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use super::{Executor, NodeError};
use crate::definition::{Node, NodeKind};

#[derive(Debug, Clone)]
pub struct ScriptExecutor {
    pub max_operations: u64,
    pub max_size: usize,
    pub wall_time: Duration,
}

impl Default for ScriptExecutor {
    fn default() -> Self {
        Self {
            max_operations: 5_000_000,
            max_size: 1_000_000,
            wall_time: Duration::from_secs(5),
        }
    }
}

impl ScriptExecutor {
    fn engine(&self) -> rhai::Engine {
        let mut engine = rhai::Engine::new();
        engine.set_max_operations(self.max_operations);
        engine.set_max_string_size(self.max_size);
        engine.set_max_array_size(self.max_size / 10);
        engine.set_max_map_size(self.max_size / 10);
        engine.set_max_call_levels(64);
        engine.set_max_expr_depths(128, 64);
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
        let started = Instant::now();
        let wall_time = self.wall_time;
        engine.on_progress(move |_| (started.elapsed() > wall_time).then_some(rhai::Dynamic::UNIT));
        engine
    }

    /// Runs `script` with `input` bound; its last expression is the output.
    pub fn run(&self, script: &str, input: Value) -> Result<Value, NodeError> {
        let engine = self.engine();
        let mut scope = rhai::Scope::new();
        let input = rhai::serde::to_dynamic(input)
            .map_err(|e| NodeError::new("script_input", e.to_string()))?;
        scope.push_dynamic("input", input);
        let result = engine
            .eval_with_scope::<rhai::Dynamic>(&mut scope, script)
            .map_err(|e| match *e {
                rhai::EvalAltResult::ErrorTerminated(..) => NodeError::new(
                    "script_timeout",
                    format!("the script ran longer than {:?}", self.wall_time),
                ),
                rhai::EvalAltResult::ErrorTooManyOperations(..) => NodeError::new(
                    "script_limit",
                    format!(
                        "the script ran more than {} operations",
                        self.max_operations
                    ),
                ),
                other => NodeError::new("script_error", other.to_string()),
            })?;
        rhai::serde::from_dynamic(&result)
            .map_err(|e| NodeError::new("script_output", e.to_string()))
    }
}

#[async_trait]
impl Executor for ScriptExecutor {
    async fn execute(&self, node: &Node, input: Value) -> Result<Value, NodeError> {
        let NodeKind::Script { script } = &node.kind else {
            return Err(NodeError::new("wrong_kind", "not a script node"));
        };
        let this = self.clone();
        let script = script.clone();
        tokio::task::spawn_blocking(move || this.run(&script, input))
            .await
            .map_err(|e| NodeError::new("script_error", e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_last_expression_is_the_output() {
        let out = ScriptExecutor::default()
            .run(
                "#{ doubled: input.size * 2, name: `n-${input.size}` }",
                json!({"size": 21}),
            )
            .expect("runs");
        assert_eq!(out, json!({"doubled": 42, "name": "n-21"}));
    }

    #[test]
    fn endless_loops_are_stopped() {
        let exec = ScriptExecutor {
            max_operations: 10_000,
            ..ScriptExecutor::default()
        };
        let err = exec.run("loop { }", json!({})).expect_err("bounded");
        assert_eq!(err.code, "script_limit");

        let exec = ScriptExecutor {
            max_operations: 0,
            wall_time: Duration::from_millis(50),
            ..ScriptExecutor::default()
        };
        let err = exec
            .run("let x = 0; loop { x += 1; }", json!({}))
            .expect_err("bounded");
        assert_eq!(err.code, "script_timeout");
    }

    #[test]
    fn memory_is_bounded() {
        let err = ScriptExecutor::default()
            .run("let s = \"x\"; loop { s += s; }", json!({}))
            .expect_err("bounded");
        assert_eq!(err.code, "script_error", "{err:?}");
    }
}
