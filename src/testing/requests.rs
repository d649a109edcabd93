//! The requests a test made, as the client sent them (each retry included): what `sim::requests()`
//! returns, what `run_script` reports as mutations, and the tail a failing test prints.

use crate::api::{Exchange, Observer};
use crate::sim::Simulator;
use rhai::{Dynamic, Map};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Debug, serde::Serialize)]
pub struct Request {
    /// The simulated time it was answered at (RFC 3339).
    pub time: String,
    pub method: String,
    /// The path without the base URL and query.
    pub path: String,
    pub op: &'static str,
    /// 0 when no answer came (a dropped connection).
    pub status: u16,
    pub mutates: bool,
}

impl Request {
    pub fn to_map(&self) -> Map {
        let mut map = Map::new();
        map.insert("time".into(), self.time.clone().into());
        map.insert("method".into(), self.method.clone().into());
        map.insert("path".into(), self.path.clone().into());
        map.insert("op".into(), self.op.into());
        map.insert("status".into(), (self.status as i64).into());
        map.insert("mutates".into(), self.mutates.into());
        map
    }

    /// `POST /instances/ → 201 (deploy_instance)`
    pub fn line(&self) -> String {
        let status = if self.status == 0 {
            "no answer".to_string()
        } else {
            self.status.to_string()
        };
        format!(
            "{} {} {} → {status} ({})",
            self.time, self.method, self.path, self.op
        )
    }
}

pub struct RequestLog {
    /// The simulator whose clock stamps each request (set once it exists).
    sim: OnceLock<Arc<Simulator>>,
    entries: Mutex<Vec<Request>>,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog::new()
    }
}

impl RequestLog {
    /// An empty log; `attach` the simulator to stamp requests with its time. (The client and
    /// its observers may be built before the simulator is at hand, as `repl --sim` does.)
    pub fn new() -> RequestLog {
        RequestLog {
            sim: OnceLock::new(),
            entries: Mutex::new(Vec::new()),
        }
    }

    pub fn attach(&self, sim: Arc<Simulator>) {
        let _ = self.sim.set(sim);
    }

    /// The client observer that fills this log.
    pub fn observer(self: &Arc<Self>) -> Observer {
        let log = self.clone();
        Arc::new(move |x: &Exchange<'_>| {
            let time = log
                .sim
                .get()
                .map(|sim| {
                    super::sandbox::epoch_to_timestamp(sim.now())
                        .strftime("%Y-%m-%dT%H:%M:%SZ")
                        .to_string()
                })
                .unwrap_or_default();
            let request = Request {
                time,
                method: x.method.as_str().to_string(),
                path: path_of(x.url),
                op: x.op.name,
                status: x.status,
                mutates: x.op.mutates,
            };
            log.lock().push(request);
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Request>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Every request from index `from` on.
    pub fn since(&self, from: usize) -> Vec<Request> {
        self.lock().iter().skip(from).cloned().collect()
    }

    /// The last `n` requests.
    pub fn tail(&self, n: usize) -> Vec<Request> {
        let entries = self.lock();
        entries[entries.len().saturating_sub(n)..].to_vec()
    }

    pub fn to_array(requests: &[Request]) -> Dynamic {
        requests
            .iter()
            .map(|r| Dynamic::from(r.to_map()))
            .collect::<rhai::Array>()
            .into()
    }
}

/// `http://127.0.0.1:8787/instances/?page=2` → `/instances/`
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_lose_origin_and_query() {
        assert_eq!(
            super::path_of("http://127.0.0.1:1/instances/?page=2"),
            "/instances/"
        );
        assert_eq!(
            super::path_of("https://barrack.ai/api/balance/"),
            "/api/balance/"
        );
        assert_eq!(super::path_of("http://h:1"), "/");
    }
}
