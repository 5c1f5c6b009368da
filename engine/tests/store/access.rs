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
    // Five failures: even the right password waits now — also in another server process on
    // the same database, which counts the same failures.
    assert!(matches!(
        access
            .password_grant("eve", "right-password", "10.0.0.10")
            .await,
        Err(AccessError::Throttled { .. })
    ));
    let other_process = AccessService::new(store.clone(), IdGenerator::new(2));
    match other_process
        .password_grant("eve", "right-password", "10.0.0.11")
        .await
    {
        Err(AccessError::Throttled { retry_after }) => {
            assert!(retry_after.as_secs() > 60, "{retry_after:?}");
        }
        other => panic!("not throttled: {other:?}"),
    }
    // Another account is not throttled by eve's failures (its address has 6 of 20).
    other_process
        .create_user("ada", "Ada", "ada-password", &[Role::Approver], &[])
        .await
        .expect("user");
    other_process
        .password_grant("ada", "ada-password", "10.0.0.9")
        .await
        .expect("ada signs in");
}

conformance!(
    grants_decide_which_definitions_and_instances_a_role_sees,
    visibility
);
async fn visibility(db: &TestDatabase, _backend: Backend) {
    use engine::people::{Grant, Permission, DEFAULT_GRANTS};
    use engine::store::{DefinitionQuery, InstanceQuery, Visibility};
    use serde_json::json;

    let store = open(db).await;
    for key in ["open", "secret"] {
        crate::runtime::publish(
            &store,
            json!({"key": key, "name": key,
                   "nodes": [{"id": "start", "kind": "start"}, {"id": "end", "kind": "end"}],
                   "edges": [{"from": "start", "to": "end"}]}),
        )
        .await;
    }
    store
        .set_grants("open", &DEFAULT_GRANTS)
        .await
        .expect("grants");
    store
        .set_grants(
            "secret",
            &[Grant {
                role: Role::Admin,
                permission: Permission::Mgmt,
            }],
        )
        .await
        .expect("grants");
    assert_eq!(store.grants("open").await.expect("read").len(), 2);

    let operator = Visibility {
        roles: vec!["operator".into()],
        username: "olivia".into(),
        departments: Vec::new(),
    };
    let definitions = |visible_to| DefinitionQuery {
        q: None,
        status: None,
        visible_to,
        limit: 10,
        offset: 0,
    };
    let seen = store
        .list_definitions(&definitions(Some(operator.clone())))
        .await
        .expect("list");
    assert_eq!(seen.total, 1);
    assert_eq!(seen.items[0].key, "open");
    assert_eq!(
        store
            .list_definitions(&definitions(None))
            .await
            .expect("all")
            .total,
        2
    );

    let rt = crate::runtime::runtime(&store, 1);
    let mine = crate::runtime::start(&rt, "secret", json!({})).await;
    let theirs = rt
        .start(engine::runtime::StartRequest {
            definition_key: "secret".into(),
            version: None,
            input: json!({}),
            trigger: engine::instance::Trigger::Api,
            operator: "someone".into(),
            idempotency_key: None,
        })
        .await
        .expect("start");
    let visible = store
        .list_instances(&InstanceQuery {
            visible_to: Some(operator),
            limit: 10,
            ..InstanceQuery::default()
        })
        .await
        .expect("list");
    // `start` runs as olivia: her own instance is visible, the other one of `secret` is not.
    let ids: Vec<_> = visible.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![mine.id]);
    assert_eq!(visible.total, 1);
    let all = store
        .list_instances(&InstanceQuery {
            limit: 1,
            offset: 0,
            ..InstanceQuery::default()
        })
        .await
        .expect("all");
    assert_eq!(all.total, 2);
    assert_eq!(all.items[0].id, theirs.id, "newest first");
}

conformance!(companies_keep_a_tree_of_departments, tenants);
async fn tenants(db: &TestDatabase, _backend: Backend) {
    use engine::store::{NewCompany, NewDepartment, StoreError};

    let store = open(db).await;
    let access = AccessService::new(store.clone(), IdGenerator::new(1));
    let user = access
        .create_user("tess", "Tess", "tess-password", &[Role::Operator], &[])
        .await
        .expect("user");
    let company = store
        .create_company(NewCompany {
            id: "c-1",
            root_id: "d-root",
            name: "Acme",
            description: "",
            tags: &["pilot".to_string()],
            properties: &serde_json::Map::new(),
            actor: "admin",
        })
        .await
        .expect("company");
    assert_eq!(company.tags, vec!["pilot".to_string()]);
    let department = |id: &'static str, parent: &'static str, name: &'static str| NewDepartment {
        id,
        company_id: "c-1",
        parent_id: parent,
        name,
        description: "",
    };
    let ops = store
        .create_department(department("d-ops", "d-root", "Ops"))
        .await
        .expect("ops");
    assert_eq!(ops.path, "Acme/Ops");
    store
        .create_department(department("d-night", "d-ops", "Night"))
        .await
        .expect("night");
    assert!(matches!(
        store
            .create_department(department("d-dup", "d-root", "Ops"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_department(department("d-lost", "nowhere", "Lost"))
            .await,
        Err(StoreError::NotFound(_))
    ));

    store.add_member("d-night", user.id).await.expect("member");
    store
        .add_member("d-night", user.id)
        .await
        .expect("again: no-op");
    assert!(store.is_member("c-1", user.id).await.expect("member?"));
    let all = store.departments("c-1").await.expect("tree");
    let paths: Vec<(&str, i64)> = all
        .iter()
        .map(|d| (d.path.as_str(), d.user_count))
        .collect();
    assert_eq!(
        paths,
        vec![("Acme", 0), ("Acme/Ops", 0), ("Acme/Ops/Night", 1)]
    );
    assert_eq!(
        store
            .companies(Some("cm"), Some(user.id))
            .await
            .expect("mine")
            .len(),
        1
    );
    assert!(store
        .companies(None, Some(engine::id::Id(12345)))
        .await
        .expect("none")
        .is_empty());
}

conformance!(a_users_roles_and_groups_change_in_place, user_change);
async fn user_change(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    let access = AccessService::new(store.clone(), IdGenerator::new(1));
    let user = access
        .create_user(
            "ann",
            "Ann",
            "ann-password-1",
            &[Role::Approver],
            &["a".into()],
        )
        .await
        .expect("user");
    let groups = vec![
        "buyers".to_string(),
        "ops".to_string(),
        "buyers".to_string(),
    ];
    let changed = store
        .update_user(
            user.id,
            engine::store::UserChange {
                display_name: None,
                roles: Some(&[Role::Approver, Role::Operator]),
                groups: Some(&groups),
            },
        )
        .await
        .expect("update");
    assert_eq!(changed.display_name, "Ann", "left as it was");
    assert_eq!(changed.roles, [Role::Approver, Role::Operator]);
    assert_eq!(changed.groups, ["buyers", "ops"]);
    let missing = store
        .update_user(engine::id::Id(1), engine::store::UserChange::default())
        .await;
    assert!(matches!(
        missing,
        Err(engine::store::StoreError::NotFound(_))
    ));
}

conformance!(
    two_processes_starting_together_create_one_administrator,
    admin_race
);
async fn admin_race(db: &TestDatabase, _backend: Backend) {
    let first = AccessService::new(open(db).await, IdGenerator::new(1));
    let second = AccessService::new(open(db).await, IdGenerator::new(2));
    let (a, b) = tokio::join!(first.ensure_admin(None), second.ensure_admin(None));
    let created = [a.expect("first starts"), b.expect("second starts")];
    assert_eq!(
        created.iter().filter(|p| p.is_some()).count(),
        1,
        "{created:?}"
    );
}
