//! An engine that is not there yet: `wren serve` listens (so `/health` can say `loading`)
//! while the model loads, then [`PendingEngine::set`] hands every call to the real one.
//! Before that, the router's readiness gate answers 503 and never reaches the engine; the
//! calls below still answer sanely if something does.

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use wren_core::chat::{ChatMessage, ToolSyntax};
use wren_core::constrain::{Constraint, Grammar};

use super::{Engine, EngineError, EngineInfo, EngineStats, GenRequest};

pub struct PendingEngine {
    inner: OnceLock<Arc<dyn Engine>>,
    placeholder: EngineInfo,
}

impl PendingEngine {
    /// `placeholder` is reported by `info()` until the engine is set.
    pub fn new(placeholder: EngineInfo) -> PendingEngine {
        PendingEngine {
            inner: OnceLock::new(),
            placeholder,
        }
    }

    /// The model is loaded: from now on every call goes to `engine`. A second call is
    /// ignored.
    pub fn set(&self, engine: Arc<dyn Engine>) {
        let _ = self.inner.set(engine);
    }

    fn get(&self) -> Result<&Arc<dyn Engine>, EngineError> {
        self.inner.get().ok_or(EngineError::Loading)
    }
}

impl Engine for PendingEngine {
    fn info(&self) -> &EngineInfo {
        self.inner.get().map_or(&self.placeholder, |e| e.info())
    }
    fn encode(&self, text: &str, add_bos: bool, parse_special: bool) -> Vec<u32> {
        self.get()
            .map(|e| e.encode(text, add_bos, parse_special))
            .unwrap_or_default()
    }
    fn encode_chat(
        &self,
        messages: &[ChatMessage],
        tools: Option<&Value>,
    ) -> Result<Vec<u32>, EngineError> {
        self.get()?.encode_chat(messages, tools)
    }
    fn render_chat(
        &self,
        messages: &[ChatMessage],
        tools: Option<&Value>,
    ) -> Result<String, EngineError> {
        self.get()?.render_chat(messages, tools)
    }
    fn added_bos_text(&self) -> Option<String> {
        self.inner.get().and_then(|e| e.added_bos_text())
    }
    fn tool_syntax(&self) -> Option<ToolSyntax> {
        self.inner.get().and_then(|e| e.tool_syntax())
    }
    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        self.get()?.decode(ids)
    }
    fn constraint(&self, grammar: &Grammar) -> Result<Constraint, EngineError> {
        self.get()?.constraint(grammar)
    }
    fn submit(&self, req: GenRequest) -> Result<(), EngineError> {
        self.get()?.submit(req)
    }
    fn stats(&self) -> EngineStats {
        self.get().map(|e| e.stats()).unwrap_or_default()
    }
    fn ready(&self) -> bool {
        self.inner.get().is_some_and(|e| e.ready())
    }
}
