//! Where the drill's notifications arrive: the webhook in drdrill's own process, or the
//! pager's container (monitoring placed in sites), read back over its published port.
use super::http::Http;
use super::webhook::{Received, Webhook};
use std::sync::Mutex;

pub enum Receiver {
    InProcess(Mutex<Option<Webhook>>),
    /// The pager's `GET /received`, and the last answer (kept once it stops answering).
    Pager {
        url: String,
        last: Mutex<Vec<Received>>,
    },
    /// The users' own Alertmanager holds what counts (an external drill).
    None,
}

impl Receiver {
    /// What Alertmanager is told to notify (the in-process webhook's URL).
    pub fn url(&self) -> String {
        match self {
            Receiver::InProcess(w) => w.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|w| w.url()).unwrap_or_default(),
            Receiver::Pager { url, .. } => url.trim_end_matches("/received").to_string(),
            Receiver::None => String::new(),
        }
    }

    /// Every alert received so far, in order.
    pub async fn received(&self, http: &Http) -> Vec<Received> {
        match self {
            Receiver::InProcess(w) => w.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|w| w.received()).unwrap_or_default(),
            Receiver::Pager { url, last } => {
                if let Ok(v) = http.get_json(url).await
                    && let Ok(now) = serde_json::from_value::<Vec<Received>>(v)
                {
                    *last.lock().unwrap_or_else(|p| p.into_inner()) = now;
                }
                last.lock().unwrap_or_else(|p| p.into_inner()).clone()
            }
            Receiver::None => Vec::new(),
        }
    }

    /// Closes the in-process webhook's port.
    pub async fn stop(&self) {
        if let Receiver::InProcess(w) = self {
            let w = w.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(w) = w {
                w.stop().await;
            }
        }
    }
}
