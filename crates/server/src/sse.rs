//! Server-sent events in OpenAI's streaming format: one `data: {json}` event per chunk,
//! then `data: [DONE]`. Keep-alive comments are sent while the model is quiet.
//!
//! The stream owns the [`Generation`]; when the client disconnects, hyper drops the
//! stream, which drops the event receiver, and the engine cancels the sequence.

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::access_log::StreamUsage;
use crate::engine::{FinishReason, Usage};
use crate::openai::gen::{Generation, Piece, TokenLp};

/// How an endpoint spells its chunks. `text` and `finish` may hold text back or send
/// several chunks (tool calls are sent once complete).
pub trait ChunkFormat: Send + 'static {
    /// A chunk before any text (chat: the one with `role`).
    fn first(&self) -> Option<Event>;
    fn text(&mut self, text: String, logprobs: Vec<TokenLp>) -> Vec<Event>;
    fn finish(&mut self, reason: FinishReason) -> Vec<Event>;
    /// The `stream_options.include_usage` chunk (empty `choices`).
    fn usage(&self, usage: Usage) -> Event;
}

/// `data: {json}`.
pub fn json_event(v: &impl Serialize) -> Event {
    Event::default().data(serde_json::to_string(v).unwrap_or_else(|_| "{}".into()))
}

enum Phase {
    Start,
    Body,
    Usage(Usage),
    Done,
    End,
}

struct State<F> {
    gen: Generation,
    /// Chunks ready to go before anything else.
    queued: std::collections::VecDeque<Event>,
    fmt: F,
    phase: Phase,
    include_usage: bool,
    /// Where the access log finds the token counts once the generation ends.
    logged: StreamUsage,
}

/// The streaming response for `gen`.
pub fn stream<F: ChunkFormat>(gen: Generation, fmt: F, include_usage: bool) -> Response {
    let logged = StreamUsage::default();
    let st = State {
        gen,
        queued: Default::default(),
        fmt,
        phase: Phase::Start,
        include_usage,
        logged: logged.clone(),
    };
    let events = futures_util::stream::unfold(st, |mut st| async move {
        let ev = next_event(&mut st).await?;
        Some((Ok::<Event, Infallible>(ev), st))
    });
    let mut res = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    res.extensions_mut().insert(logged);
    res
}

async fn next_event<F: ChunkFormat>(st: &mut State<F>) -> Option<Event> {
    loop {
        if let Some(ev) = st.queued.pop_front() {
            return Some(ev);
        }
        match std::mem::replace(&mut st.phase, Phase::End) {
            Phase::Start => {
                st.phase = Phase::Body;
                if let Some(ev) = st.fmt.first() {
                    return Some(ev);
                }
            }
            Phase::Body => match st.gen.next().await {
                Some(Piece::Text { text, logprobs }) => {
                    st.phase = Phase::Body;
                    st.queued.extend(st.fmt.text(text, logprobs));
                }
                Some(Piece::End { finish, usage }) => {
                    *st.logged.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(usage);
                    st.phase = if st.include_usage {
                        Phase::Usage(usage)
                    } else {
                        Phase::Done
                    };
                    st.queued.extend(st.fmt.finish(finish));
                }
                Some(Piece::Failed(e)) => {
                    e.log();
                    st.phase = Phase::Done;
                    return Some(json_event(&e.body()));
                }
                None => st.phase = Phase::Done,
            },
            Phase::Usage(u) => {
                st.phase = Phase::Done;
                return Some(st.fmt.usage(u));
            }
            Phase::Done => return Some(Event::default().data("[DONE]")),
            Phase::End => return None,
        }
    }
}
