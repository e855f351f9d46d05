use crate::common::*;
use reqwest::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A browser session: the `name=value` cookie pair and its CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

struct Login {
    status: StatusCode,
    body: Value,
    set_cookie: Option<String>,
    retry_after: Option<u64>,
}

async fn login(server: &TestServer, username: &str, password: &str) -> Login {
    let resp = server
        .http
        .post(server.url("/api/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .expect("login request");
    let status = resp.status();
    let set_cookie = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("cs_session="))
        .map(str::to_owned);
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let (_, body) = decode(resp).await;
    Login {
        status,
        body,
        set_cookie,
        retry_after,
    }
}

async fn session(server: &TestServer, username: &str, password: &str) -> Session {
    let l = login(server, username, password).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.body);
    let cookie = l
        .set_cookie
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    Session {
        cookie,
        csrf: l.body["csrf_token"].as_str().expect("csrf").to_owned(),
    }
}

fn password_of(username: &str) -> String {
    // What `TestServer::user` sets.
    format!("{username}-password-123")
}

/// A request with the session cookie and, if `csrf`, its CSRF header.
fn with_cookie(
    server: &TestServer,
    method: Method,
    path: &str,
    s: &Session,
    csrf: bool,
) -> reqwest::RequestBuilder {
    let r = server
        .http
        .request(method, server.url(path))
        .header(COOKIE, &s.cookie);
    if csrf {
        r.header("x-csrf-token", &s.csrf)
    } else {
        r
    }
}

async fn user_id(server: &TestServer, username: &str) -> i64 {
    let (status, users) = server.call(Method::GET, "/api/users", None).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .and_then(|u| u["id"].as_i64())
        .unwrap_or_else(|| panic!("no user {username} in {users}"))
}

async fn audit(server: &TestServer, query: &str) -> Vec<Value> {
    let (status, body) = server
        .call(Method::GET, &format!("/api/audit{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("audit array").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_strict_secure_session_cookie() {
    let server = TestServer::start().await;
    let l = login(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.body);
    assert_eq!(l.body["user"]["username"], "admin");
    assert_eq!(l.body["user"]["role"], "admin");
    assert_eq!(l.body["user"]["language"], "de");
    assert!(l.body["user"]["id"].is_i64());
    assert!(l.body["csrf_token"].as_str().unwrap().len() >= 32);
    let cookie = l.set_cookie.expect("cookie");
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attrs[0].len() > "cs_session=".len() + 30, "{cookie}");
    for want in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=43200",
        "Secure",
    ] {
        assert!(attrs.contains(&want), "{want} missing in {cookie}");
    }

    // The cookie works for reads without a CSRF header.
    let s = session(&server, "ADMIN", ADMIN_PASSWORD).await;
    let resp = with_cookie(&server, Method::GET, "/api/me", &s, false)
        .send()
        .await
        .unwrap();
    let (status, me) = decode(resp).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");

    // Unknown fields are refused; so is a request without credentials.
    let resp = server
        .http
        .post(server.url("/api/auth/login"))
        .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD, "remember": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = server.http.get(server.url("/api/me")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;

    // Plain-HTTP installs may drop Secure.
    let server = TestServer::start_with(|c| c.insecure_cookies = true).await;
    let l = login(&server, "admin", ADMIN_PASSWORD).await;
    let cookie = l.set_cookie.expect("cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "{cookie}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_look_the_same() {
    let server = TestServer::start().await;
    let wrong = login(&server, "admin", "not-the-password").await;
    let unknown = login(&server, "nobody", "not-the-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.set_cookie.is_none() && unknown.set_cookie.is_none());
    assert!(
        wrong.body["message"]
            .as_str()
            .unwrap()
            .contains("username or password")
    );

    // Both are audited under the name that was tried.
    let entries = audit(&server, "").await;
    let failed: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == "auth.login_failed")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["nobody", "admin"]);
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "auth.login" && e["actor"] == "admin")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_sessions_need_the_csrf_token_to_change_state() {
    let server = TestServer::start().await;
    let s = session(&server, "admin", ADMIN_PASSWORD).await;
    let body = json!({ "label": "from the browser" });

    let resp = with_cookie(&server, Method::POST, "/api/tokens", &s, false)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = with_cookie(&server, Method::POST, "/api/tokens", &s, false)
        .header("x-csrf-token", "forged")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = with_cookie(&server, Method::POST, "/api/tokens", &s, true)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, created) = decode(resp).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["label"], "from the browser");

    // Another session's CSRF token does not fit.
    let other = session(&server, "admin", ADMIN_PASSWORD).await;
    let resp = with_cookie(&server, Method::POST, "/api/tokens", &s, false)
        .header("x-csrf-token", &other.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_need_no_csrf_and_can_be_revoked() {
    let server = TestServer::start().await;
    // The harness's admin token is a bearer token; POSTing with it needs no CSRF header.
    let (status, created) = server
        .call(
            Method::POST,
            "/api/tokens",
            Some(json!({ "label": "backup script" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["label"], "backup script");

    let (status, me) = server.call_as(&token, Method::GET, "/api/me", None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "admin");

    // Listing shows labels, never tokens.
    let (status, list) = server.call(Method::GET, "/api/tokens", None).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list.iter()
            .any(|t| t["id"] == id && t["label"] == "backup script")
    );
    assert!(
        list.iter()
            .all(|t| t.get("token").is_none() && t["created_at"].is_string())
    );
    assert!(!serde_json::to_string(&list).unwrap().contains(&token));

    // A viewer may make tokens but sees only its own and cannot revoke others'.
    let viewer = server.user("vera", "viewer").await;
    let (status, mine) = server
        .call_as(&viewer, Method::GET, "/api/tokens", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    let (status, _) = server
        .call_as(&viewer, Method::DELETE, &format!("/api/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let vera_token_id = mine[0]["id"].as_i64().unwrap();

    let (status, _) = server
        .call(Method::DELETE, &format!("/api/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.call_as(&token, Method::GET, "/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .call(Method::DELETE, &format!("/api/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An admin may revoke anyone's token.
    let (status, _) = server
        .call(
            Method::DELETE,
            &format!("/api/tokens/{vera_token_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.call_as(&viewer, Method::GET, "/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced() {
    let server = TestServer::start().await;
    let viewer = server.user("vic", "viewer").await;
    let editor = server.user("edda", "editor").await;
    let publisher = server.user("paul", "publisher").await;
    let new_user =
        json!({ "username": "mallory", "password": "mallory-password-1", "role": "admin" });

    for token in [&viewer, &editor, &publisher] {
        let (status, body) = server
            .call_as(token, Method::POST, "/api/users", Some(new_user.clone()))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = server.call_as(token, Method::GET, "/api/users", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = server.call_as(token, Method::GET, "/api/audit", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, me) = server.call_as(token, Method::GET, "/api/me", None).await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    let id = user_id(&server, "vic").await;
    let (status, _) = server
        .call_as(
            &editor,
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server
        .call_as(&editor, Method::DELETE, &format!("/api/users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, me) = server.call_as(&editor, Method::GET, "/api/me", None).await;
    assert_eq!(me["role"], "editor", "{status}");

    // Nothing was created.
    let (_, users) = server.call(Method::GET, "/api/users", None).await;
    assert!(!users.to_string().contains("mallory"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let server = TestServer::start().await;
    let s = session(&server, "admin", ADMIN_PASSWORD).await;
    let other = session(&server, "admin", ADMIN_PASSWORD).await;

    // Logging out is a state change: the CSRF token is needed.
    let resp = with_cookie(&server, Method::POST, "/api/auth/logout", &s, false)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let resp = with_cookie(&server, Method::POST, "/api/auth/logout", &s, true)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let cleared = resp
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cleared.starts_with("cs_session=;"), "{cleared}");
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("HttpOnly"),
        "{cleared}"
    );

    let resp = with_cookie(&server, Method::GET, "/api/me", &s, false)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Only that session ended.
    let resp = with_cookie(&server, Method::GET, "/api/me", &other, false)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let rows: i64 = server
        .state
        .db
        .call(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM sessions WHERE kind = 'cookie'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    // The harness's own login session, plus `other`.
    assert_eq!(rows, 2);
    assert!(
        audit(&server, "")
            .await
            .iter()
            .any(|e| e["action"] == "auth.logout")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_users_cannot_log_in_and_lose_their_sessions() {
    let server = TestServer::start().await;
    let token = server.user("dora", "editor").await;
    let s = session(&server, "dora", &password_of("dora")).await;
    let id = user_id(&server, "dora").await;

    let (status, user) = server
        .call(
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["disabled"], true);
    assert_eq!(user["role"], "editor");

    let (status, _) = server.call_as(&token, Method::GET, "/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let resp = with_cookie(&server, Method::GET, "/api/me", &s, false)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let sessions: i64 = server
        .state
        .db
        .call(move |c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM sessions WHERE user_id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(sessions, 0);

    // The right password is refused like a wrong one.
    let right = login(&server, "dora", &password_of("dora")).await;
    let wrong = login(&server, "dora", "wrong-password-123").await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED);
    assert_eq!(right.body, wrong.body);

    // Enabled again, the old password works; a new one replaces it and ends sessions.
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let s = session(&server, "dora", &password_of("dora")).await;
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(json!({ "password": "too-short" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(json!({ "password": "a-new-long-password" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let resp = with_cookie(&server, Method::GET, "/api/me", &s, false)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&server, "dora", &password_of("dora")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let me = session(&server, "dora", "a-new-long-password").await;
    let resp = with_cookie(&server, Method::GET, "/api/me", &me, false)
        .send()
        .await
        .unwrap();
    let (_, me) = decode(resp).await;
    assert_eq!(me["username"], "dora");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_cannot_be_demoted_disabled_or_removed() {
    let server = TestServer::start().await;
    let admin_id = user_id(&server, "admin").await;
    let path = format!("/api/users/{admin_id}");
    for change in [json!({ "role": "publisher" }), json!({ "disabled": true })] {
        let (status, body) = server.call(Method::PUT, &path, Some(change)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("last enabled admin"),
            "{body}"
        );
    }
    let (status, _) = server.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Harmless changes to the last admin are fine.
    let (status, me) = server
        .call(Method::PUT, &path, Some(json!({ "language": "en" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["language"], "en");

    // A disabled second admin does not count.
    let second = server.user("anna", "admin").await;
    let anna = user_id(&server, "anna").await;
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/users/{anna}"),
            Some(json!({ "disabled": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(Method::PUT, &path, Some(json!({ "role": "editor" })))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // An enabled one does: then the first admin may step down.
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/users/{anna}"),
            Some(json!({ "disabled": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server
        .call(Method::PUT, &path, Some(json!({ "role": "editor" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "editor");
    // Disabling anna ended her token; she logs in again and is now the last admin.
    let (status, _) = server.call_as(&second, Method::GET, "/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let anna_token = server.token_for("anna", &password_of("anna")).await;
    let (status, _) = server
        .call_as(
            &anna_token,
            Method::DELETE,
            &format!("/api/users/{anna}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_validated_listed_and_removed() {
    let server = TestServer::start().await;
    let (status, user) = server
        .call(
            Method::POST,
            "/api/users",
            Some(json!({ "username": "Kim.Berg", "password": "kim-password-123", "role": "publisher" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["username"], "kim.berg");
    assert_eq!(user["role"], "publisher");
    assert_eq!(user["language"], "de");
    assert_eq!(user["disabled"], false);
    assert!(user["id"].is_i64());
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    let bad = [
        (
            json!({ "username": "kim.berg", "password": "another-password", "role": "viewer" }),
            StatusCode::CONFLICT,
        ),
        (
            json!({ "username": "KIM.BERG", "password": "another-password", "role": "viewer" }),
            StatusCode::CONFLICT,
        ),
        (
            json!({ "username": "", "password": "another-password", "role": "viewer" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "username": "kim berg", "password": "another-password", "role": "viewer" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "username": "x".repeat(65), "password": "another-password", "role": "viewer" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "username": "short", "password": "elevenchars", "role": "viewer" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "username": "lang", "password": "another-password", "role": "viewer", "language": "fr" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "username": "boss", "password": "another-password", "role": "root" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "username": "extra", "password": "another-password", "role": "viewer", "admin": true }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, want) in bad {
        let (status, answer) = server
            .call(Method::POST, "/api/users", Some(body.clone()))
            .await;
        assert_eq!(status, want, "{body} -> {answer}");
    }

    let (status, english) = server
        .call(
            Method::POST,
            "/api/users",
            Some(json!({ "username": "en-user", "password": "en-user-password", "role": "viewer", "language": "en" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{english}");
    assert_eq!(english["language"], "en");

    let (status, users) = server.call(Method::GET, "/api/users", None).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "en-user", "kim.berg"]);

    let id = user["id"].as_i64().unwrap();
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(json!({ "shoe": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/users/9999",
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let kim = server.token_for("kim.berg", "kim-password-123").await;
    let (status, _) = server
        .call(Method::DELETE, &format!("/api/users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.call_as(&kim, Method::GET, "/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .call(Method::DELETE, &format!("/api/users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_lists_changes_newest_first() {
    let server = TestServer::start().await;
    server.user("olga", "viewer").await;
    let id = user_id(&server, "olga").await;
    let (status, _) = server
        .call(
            Method::PUT,
            &format!("/api/users/{id}"),
            Some(json!({ "role": "editor" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(Method::DELETE, &format!("/api/users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let entries = audit(&server, "").await;
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first: delete, update, then olga's token and login, then her creation.
    assert_eq!(
        &actions[..5],
        [
            "user.delete",
            "user.update",
            "token.create",
            "auth.login",
            "user.create"
        ]
    );
    let update = &entries[1];
    assert_eq!(update["actor"], "admin");
    assert_eq!(update["target"], "user olga");
    assert_eq!(
        update["detail"]["role"],
        json!({ "from": "viewer", "to": "editor" })
    );
    assert!(update["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(entries[3]["actor"], "olga");
    assert_eq!(entries[4]["detail"]["role"], "viewer");
    // The bootstrap is the oldest entry.
    let oldest = entries.last().unwrap();
    assert_eq!(
        (oldest["actor"].as_str(), oldest["action"].as_str()),
        (Some("system"), Some("user.create"))
    );

    // Paging.
    let page = audit(&server, "?limit=2").await;
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["id"], entries[0]["id"]);
    let next = audit(&server, &format!("?limit=2&before_id={}", page[1]["id"])).await;
    assert_eq!(next.len(), 2);
    assert_eq!(next[0]["id"], entries[2]["id"]);
    assert_eq!(audit(&server, "?limit=100000").await.len(), entries.len());
    let (status, _) = server.call(Method::GET, "/api/audit?limit=abc", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_failed_logins_are_cheap_and_lock_the_account() {
    let server = TestServer::start().await;
    server.user("target", "editor").await;
    let admin_before = audit(&server, "?limit=1000").await.len();

    let started = Instant::now();
    let mut statuses = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let l = login(&server, "target", "guess-123456").await;
        match l.status {
            StatusCode::UNAUTHORIZED => assert!(l.retry_after.is_none()),
            StatusCode::TOO_MANY_REQUESTS => {
                let secs = l
                    .retry_after
                    .unwrap_or_else(|| panic!("attempt {i}: 429 without Retry-After"));
                assert!((1..=900).contains(&secs), "Retry-After {secs}");
                assert_eq!(l.body["error"], "too_many_requests");
            }
            other => panic!("attempt {i}: unexpected {other}: {}", l.body),
        }
        statuses.push(l.status);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(60),
        "10,000 failed logins took {elapsed:?}"
    );

    // Five free attempts, then locked straight away.
    assert!(
        statuses[..5].iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{:?}",
        &statuses[..6]
    );
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    // Only when a lock ran out was a password checked again: the delays double,
    // so few attempts got through however long the loop took.
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(
        checked < 5 + 20,
        "{checked} attempts reached the password check in {elapsed:?}"
    );

    // The right password is refused while locked, as is anyone from the same address.
    let right = login(&server, "target", &password_of("target")).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        right.body
    );
    assert!(right.retry_after.is_some());
    let other = login(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        other.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        other.body
    );

    // Existing tokens keep working, and refused attempts did not flood the audit log.
    let after = audit(&server, "?limit=1000").await;
    assert_eq!(
        after.len() - admin_before,
        checked,
        "one audit entry per checked attempt"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_creates_one_admin_once() {
    // Restarting with another configured password keeps the existing admin.
    let server = TestServer::start().await;
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |c| {
        c.admin_password = Some("a-different-password".into())
    })
    .await;
    let (_, users) = server.call(Method::GET, "/api/users", None).await;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!(
        login(&server, "admin", "a-different-password").await.status,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;

    // Without a configured password a random one is made (and printed once).
    let dir = tempfile::tempdir().unwrap();
    let mut config = control_server::config::Config::for_tests(dir.path().to_path_buf());
    config.admin_password = None;
    let state = control_server::open_state(config).unwrap();
    control_server::auth::bootstrap_admin(&state).await.unwrap();
    control_server::auth::bootstrap_admin(&state).await.unwrap();
    let (count, role, hash): (i64, String, String) = state
        .db
        .call(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*), MAX(role), MAX(password_hash) FROM users WHERE username = 'admin'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .await
        .unwrap();
    assert_eq!((count, role.as_str()), (1, "admin"));
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let users: i64 = state
        .db
        .call(|c| Ok(c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(users, 1);
}
