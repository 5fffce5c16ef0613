//! Chat templates (filled in by the chat-template work).
