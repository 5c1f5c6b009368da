//! Script nodes: Rhai, sandboxed. Rhai has no file, network or process access; this bounds the
//! operations, the sizes of strings, lists and maps, the call depth and the wall time, and runs
//! the script off the async workers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::NodeError;

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

/// A configured engine and compiled scripts, kept per worker thread: building an engine with its
/// packages costs more than running a small script.
struct Sandbox {
    limits: (u64, usize),
    engine: rhai::Engine,
    /// Start of this sandbox's clock, and the current run's deadline on it (nanoseconds).
    clock: Instant,
    deadline: Arc<AtomicU64>,
    compiled: HashMap<String, rhai::AST>,
}

/// Compiled scripts kept per thread before the cache starts over.
const MAX_COMPILED: usize = 256;

thread_local! {
    static SANDBOX: RefCell<Option<Sandbox>> = const { RefCell::new(None) };
}

impl Sandbox {
    fn new(limits: (u64, usize)) -> Self {
        let (max_operations, max_size) = limits;
        let mut engine = rhai::Engine::new();
        // No I/O: off wasm, `Engine::new` would let `import "path"` read script files from disk.
        engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
        engine.set_max_operations(max_operations);
        engine.set_max_string_size(max_size);
        engine.set_max_array_size(max_size / 10);
        engine.set_max_map_size(max_size / 10);
        engine.set_max_call_levels(64);
        engine.set_max_expr_depths(128, 64);
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
        let clock = Instant::now();
        let deadline = Arc::new(AtomicU64::new(u64::MAX));
        let watch = deadline.clone();
        engine.on_progress(move |_| {
            let now = clock.elapsed().as_nanos() as u64;
            (now > watch.load(Ordering::Relaxed)).then_some(rhai::Dynamic::UNIT)
        });
        Self {
            limits,
            engine,
            clock,
            deadline,
            compiled: HashMap::new(),
        }
    }
}

impl ScriptExecutor {
    /// Runs `script` with `input` bound; its last expression is the output.
    pub fn run(&self, script: &str, input: Value) -> Result<Value, NodeError> {
        let limits = (self.max_operations, self.max_size);
        SANDBOX.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|s| s.limits != limits) {
                *slot = Some(Sandbox::new(limits));
            }
            match slot.as_mut() {
                Some(sandbox) => self.run_in(sandbox, script, input),
                None => Err(NodeError::new("script_error", "no script engine")),
            }
        })
    }

    fn run_in(
        &self,
        sandbox: &mut Sandbox,
        script: &str,
        input: Value,
    ) -> Result<Value, NodeError> {
        if !sandbox.compiled.contains_key(script) {
            let ast = sandbox
                .engine
                .compile(script)
                .map_err(|e| NodeError::new("script_error", e.to_string()))?;
            if sandbox.compiled.len() >= MAX_COMPILED {
                sandbox.compiled.clear();
            }
            sandbox.compiled.insert(script.to_string(), ast);
        }
        let Some(ast) = sandbox.compiled.get(script) else {
            return Err(NodeError::new("script_error", "compiled script missing"));
        };
        let mut scope = rhai::Scope::new();
        let input = rhai::serde::to_dynamic(input)
            .map_err(|e| NodeError::new("script_input", e.to_string()))?;
        scope.push_dynamic("input", input);
        let deadline = sandbox.clock.elapsed() + self.wall_time;
        sandbox
            .deadline
            .store(deadline.as_nanos() as u64, Ordering::Relaxed);
        let result = sandbox
            .engine
            .eval_ast_with_scope::<rhai::Dynamic>(&mut scope, ast);
        sandbox.deadline.store(u64::MAX, Ordering::Relaxed);
        let result = result.map_err(|e| match *e {
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

impl ScriptExecutor {
    /// Runs `script` off the async workers.
    pub async fn execute(&self, script: &str, input: Value) -> Result<Value, NodeError> {
        let this = self.clone();
        let script = script.to_string();
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
    fn scripts_cannot_read_files() {
        let dir = tempfile::tempdir().expect("a folder");
        let module = dir.path().join("secret.rhai");
        std::fs::write(&module, "export const SECRET = 42;").expect("written");
        let script = format!("import {:?} as s; s::SECRET", module.display().to_string());
        let err = ScriptExecutor::default()
            .run(&script, json!({}))
            .expect_err("no modules from disk");
        assert_eq!(err.code, "script_error", "{err:?}");
        assert!(err.message.contains("secret"), "{err:?}");
    }

    #[test]
    fn memory_is_bounded() {
        let err = ScriptExecutor::default()
            .run("let s = \"x\"; loop { s += s; }", json!({}))
            .expect_err("bounded");
        assert_eq!(err.code, "script_error", "{err:?}");
    }
}
