//! Just enough of W3C WebDriver, over plain HTTP, to drive the app through `tauri-driver`.

// Shared by the end-to-end test and the figures bench; each uses part of it.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct WebDriver {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    session: String,
}

impl WebDriver {
    /// Starts the app at `application` (a new session) through the driver at `port`.
    pub async fn launch(port: u16, application: &str) -> Self {
        // Every call answers within a minute or the test fails, rather than hanging CI.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "tauri-driver never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": application}}}});
        let res: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"));
        Self {
            http,
            session: format!("{base}/session/{id}"),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.try_post(path, body)
            .await
            .unwrap_or_else(|(error, message)| panic!("webdriver {path}: {error}: {message}"))
    }

    /// A WebDriver call; `Err((error, message))` when the driver refused it.
    async fn try_post(&self, path: &str, body: Value) -> Result<Value, (String, Value)> {
        let res: Value = self
            .http
            .post(format!("{}{path}", self.session))
            .json(&body)
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver json");
        match res["value"]["error"].as_str() {
            Some(error) => Err((error.to_owned(), res["value"]["message"].clone())),
            None => Ok(res["value"].clone()),
        }
    }

    /// Loads `url` in the webview, in place of the app (for a page the platform serves).
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// Runs `script` in the page (`arguments[0..]` are `args`) and returns its value.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Polls `script` until it returns something truthy, or panics with `what` after 30 s.
    pub async fn wait_for(&self, what: &str, script: &str, args: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.js(script, args.clone()).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() >= deadline {
                // What the page showed instead: the first failure to look at.
                let shown = self
                    .js(
                        "return location.hash + ' | ' + (document.body ? document.body.innerText.slice(0, 400) : '(no body)');",
                        json!([]),
                    )
                    .await;
                panic!("timed out waiting for {what}; the page shows: {shown}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of `css` contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) {
        self.wait_for(
            &format!("{css} to say {needle:?}"),
            "const e = document.querySelector(arguments[0]); return !!e && e.textContent.includes(arguments[1]);",
            json!([css, needle]),
        )
        .await;
    }

    async fn element(&self, css: &str) -> String {
        self.wait_for(
            css,
            "return !!document.querySelector(arguments[0]);",
            json!([css]),
        )
        .await;
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element id for {css}: {found}"))
            .to_owned()
    }

    /// Clicks `css` once it shows and is enabled, as a person would wait to. A render that
    /// replaces it between finding and clicking ("not interactable", "stale") is waited out.
    pub async fn click(&self, css: &str) {
        for attempt in 0..10 {
            self.wait_for(
                &format!("{css} to be clickable"),
                "const e = document.querySelector(arguments[0]); if (!e || e.disabled) return false; \
                 const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0;",
                json!([css]),
            )
            .await;
            let id = self.element(css).await;
            match self
                .try_post(&format!("/element/{id}/click"), json!({}))
                .await
            {
                Ok(_) => return,
                Err((error, _))
                    if attempt < 9
                        && matches!(
                            error.as_str(),
                            "element not interactable" | "stale element reference"
                        ) =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err((error, message)) => panic!("webdriver click {css}: {error}: {message}"),
            }
        }
    }

    /// Replaces the content of an input with `text`, typed as keystrokes. The field is
    /// emptied as a person's select-all and delete would, with an input event: WebDriver's own
    /// clear fires none, so the page's state kept the old text and the next render (a list
    /// arriving, a sync) put it back in front of what was typed.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.js(
            "const e = document.querySelector(arguments[0]); e.value = ''; \
             e.dispatchEvent(new Event('input', {bubbles: true}));",
            json!([css]),
        )
        .await;
        self.post(&format!("/element/{id}/value"), json!({"text": text}))
            .await;
    }

    /// Resizes the window (its outer size), for screenshots at the sizes people use.
    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
        // Let the layout settle at the new size.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let res: Value = self
            .http
            .get(format!("{}/screenshot", self.session))
            .send()
            .await
            .expect("screenshot")
            .json()
            .await
            .expect("screenshot json");
        let png = base64::engine::general_purpose::STANDARD
            .decode(res["value"].as_str().expect("png"))
            .expect("base64");
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Ends the session, which closes the app.
    pub async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}
