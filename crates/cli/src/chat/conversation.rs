//! A chat's messages, and their JSON file form for `/save` and `/load`:
//! `{"system": "..." | null, "messages": [{"role": "user", "content": "..."}, ...]}`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use wren_core::chat::ChatMessage;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
}

impl Conversation {
    pub fn new(system: Option<String>) -> Conversation {
        Conversation {
            system,
            messages: Vec::new(),
        }
    }

    /// Every message the template renders: the system prompt first, if any.
    pub fn rendered(&self) -> Vec<ChatMessage> {
        let mut all = Vec::with_capacity(self.messages.len() + 1);
        if let Some(s) = &self.system {
            all.push(ChatMessage::new("system", s.clone()));
        }
        all.extend(self.messages.iter().cloned());
        all
    }

    /// Drops the oldest exchange (a user message and the reply after it), so roles keep
    /// alternating as templates such as Gemma's require. Returns how many were dropped.
    pub fn drop_oldest_exchange(&mut self) -> usize {
        if self.messages.is_empty() {
            return 0;
        }
        self.messages.remove(0);
        if self.messages.first().is_some_and(|m| m.role == "assistant") {
            self.messages.remove(0);
            return 2;
        }
        1
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
    }

    pub fn load(path: &Path) -> Result<Conversation> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let c: Conversation = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a saved conversation ({{\"system\": ..., \"messages\": [{{\"role\", \"content\"}}, ...]}})",
                path.display()
            )
        })?;
        for (i, m) in c.messages.iter().enumerate() {
            if !matches!(m.role.as_str(), "user" | "assistant") {
                bail!(
                    "{}: message {i} has role {:?}; expected user or assistant (the system prompt goes in \"system\")",
                    path.display(),
                    m.role
                );
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_and_bad_files() {
        let dir = std::env::temp_dir().join(format!("wren-conv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = Conversation::new(Some("Be brief.".into()));
        c.messages.push(ChatMessage::new("user", "Hi"));
        c.messages.push(ChatMessage::new("assistant", "Hello!"));
        let p = dir.join("c.json");
        c.save(&p).unwrap();
        assert_eq!(Conversation::load(&p).unwrap(), c);
        assert_eq!(c.rendered().len(), 3);
        std::fs::write(&p, r#"{"messages":[{"role":"system","content":"x"}]}"#).unwrap();
        assert!(Conversation::load(&p).is_err());
        std::fs::write(&p, "not json").unwrap();
        assert!(Conversation::load(&p).is_err());
        let mut c2 = c.clone();
        assert_eq!(c2.drop_oldest_exchange(), 2);
        assert!(c2.messages.is_empty());
    }
}
