//! Sign-in and tokens on both databases: grants, rotation, reuse detection, revocation,
//! throttling, the first administrator.

use engine::id::IdGenerator;
use engine::people::Role;
use engine::service::{AccessError, AccessService};
use engine::status::Backend;
use engine::testing::TestDatabase;

use crate::{conformance, open};

conformance!(the_first_start_creates_one_administrator, first_admin);
async fn first_admin(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let access = AccessService::new(store.clone(), IdGenerator::new(1));
    let generated = access
        .ensure_admin(None)
        .await
        .expect("admin")
        .expect("a generated password");
    assert!(generated.len() >= 32);
    assert_eq!(access.ensure_admin(None).await.expect("again"), None);
    let pair = access
        .password_grant("ADMIN", &generated, "127.0.0.1")
        .await
        .expect("usernames are case-insensitive");
    let caller = access
        .authenticate(&pair.access_token)
        .await
        .expect("check")
        .expect("valid");
    assert!(caller.user.is_admin());
}

conformance!(
    tokens_rotate_and_a_reused_refresh_token_ends_its_family,
    rotation
);
async fn rotation(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let access = AccessService::new(store.clone(), IdGenerator::new(1));
    access
        .create_user(
            "olivia",
            "Olivia",
            "s3cret-pass",
            &[Role::Operator],
            &["ops".into()],
        )
        .await
        .expect("user");

    let first = access
        .password_grant("olivia", "s3cret-pass", "10.0.0.1")
        .await
        .expect("grant");
    assert_eq!(first.token_type, "Bearer");
    let caller = access
        .authenticate(&first.access_token)
        .await
        .expect("check")
        .expect("valid");
    assert_eq!(caller.user.groups, vec!["ops".to_string()]);
    // Tokens are stored hashed: the refresh token is not an access token.
    assert!(access
        .authenticate(&first.refresh_token)
        .await
        .expect("check")
        .is_none());

    let second = access
        .refresh_grant(&first.refresh_token)
        .await
        .expect("rotate");
    assert_ne!(second.refresh_token, first.refresh_token);
    assert!(access
        .authenticate(&second.access_token)
        .await
        .expect("check")
        .is_some());

    // The spent token comes back: refused, and the family (second pair included) is revoked.
    assert!(matches!(
        access.refresh_grant(&first.refresh_token).await,
        Err(AccessError::InvalidRefresh)
    ));
    assert!(access
        .authenticate(&second.access_token)
        .await
        .expect("check")
        .is_none());
    assert!(matches!(
        access.refresh_grant(&second.refresh_token).await,
        Err(AccessError::InvalidRefresh)
    ));
    assert!(matches!(
        access.refresh_grant("made-up").await,
        Err(AccessError::InvalidRefresh)
    ));
}

conformance!(
    logout_password_change_and_disabling_revoke_at_once,
    revocation
);
async fn revocation(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let access = AccessService::new(store.clone(), IdGenerator::new(1));
    let user = access
        .create_user("dan", "Dan", "first-password", &[Role::Designer], &[])
        .await
        .expect("user");

    let laptop = access
        .password_grant("dan", "first-password", "10.0.0.1")
        .await
        .expect("grant");
    let phone = access
        .password_grant("dan", "first-password", "10.0.0.2")
        .await
        .expect("grant");
    let caller = access
        .authenticate(&laptop.access_token)
        .await
        .expect("check")
        .expect("valid");
    access.logout(&caller).await.expect("logout");
    assert!(access
        .authenticate(&laptop.access_token)
        .await
        .expect("check")
        .is_none());
    assert!(access.refresh_grant(&laptop.refresh_token).await.is_err());
    // Logging out on one device leaves the other signed in.
    assert!(access
        .authenticate(&phone.access_token)
        .await
        .expect("check")
        .is_some());

    access
        .change_password(&user, "first-password", "second-password")
        .await
        .expect("change");
    assert!(access
        .authenticate(&phone.access_token)
        .await
        .expect("check")
        .is_none());
    assert!(matches!(
        access
            .password_grant("dan", "first-password", "10.0.0.1")
            .await,
        Err(AccessError::InvalidCredentials)
    ));
    let again = access
        .password_grant("dan", "second-password", "10.0.0.1")
        .await
        .expect("new password");

    store.set_disabled(user.id, true).await.expect("disable");
    assert!(access
        .authenticate(&again.access_token)
        .await
        .expect("check")
        .is_none());
    assert!(matches!(
        access
            .password_grant("dan", "second-password", "10.0.0.1")
            .await,
        Err(AccessError::InvalidCredentials)
    ));
}

conformance!(
    failed_sign_ins_are_throttled_and_unknown_users_look_the_same,
    throttling
);
async fn throttling(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let access = AccessService::new(store.clone(), IdGenerator::new(1));
    access
        .create_user("eve", "Eve", "right-password", &[Role::Approver], &[])
        .await
        .expect("user");
    let unknown = access
        .password_grant("nobody", "whatever-pass", "10.0.0.9")
        .await
        .expect_err("unknown");
    let wrong = access
        .password_grant("eve", "wrong-password", "10.0.0.9")
        .await
        .expect_err("wrong");
    assert_eq!(unknown.to_string(), wrong.to_string());

    for _ in 0..4 {
        let _ = access
            .password_grant("eve", "wrong-password", "10.0.0.9")
            .await;
    }
    // Five failures: even the right password waits now.
    assert!(matches!(
        access
            .password_grant("eve", "right-password", "10.0.0.10")
            .await,
        Err(AccessError::Throttled { .. })
    ));
}
