//! Demo data for a new installation: a small CMDB-like catalog (systems, subsystems, units,
//! hosts) and two published workflows bound to it, so that a first look at the run page shows a
//! real preview. Loaded only into an empty database (no entity types and no definitions).

use serde_json::{json, Value};

use super::{DefinitionService, EntityError, EntityService};
use crate::entity::{Attribute, EntityType};
use crate::people::User;

fn entity_type(id: &str, name: &str, references: &[(&str, &str)]) -> EntityType {
    EntityType {
        id: id.into(),
        display_name: name.into(),
        display_attribute: "name".into(),
        attributes: [("name", None), ("state", None)]
            .into_iter()
            .map(|(n, r): (&str, Option<&str>)| Attribute {
                name: n.into(),
                references: r.map(str::to_owned),
            })
            .chain(references.iter().map(|(a, t)| Attribute {
                name: a.to_string(),
                references: Some(t.to_string()),
            }))
            .collect(),
    }
}

/// `(guid, name, parent guid)` rows of each level.
fn catalog() -> [(&'static str, Vec<Value>); 4] {
    let systems = [("sys-pay", "Payments"), ("sys-portal", "Customer portal")];
    let subsystems = [
        ("sub-gateway", "Payment gateway", "sys-pay"),
        ("sub-ledger", "Ledger", "sys-pay"),
        ("sub-web", "Portal web", "sys-portal"),
        ("sub-accounts", "Accounts", "sys-portal"),
    ];
    let mut units = Vec::new();
    let mut hosts = Vec::new();
    for (sub, name, _) in subsystems {
        for (suffix, role) in [("api", "API"), ("db", "database")] {
            let unit = format!("unit-{}-{suffix}", &sub[4..]);
            units.push(json!({"guid": unit, "name": format!("{name} {role}"), "subsys": sub, "state": "created"}));
            for n in 1..=if suffix == "api" { 2 } else { 1 } {
                let state = if sub == "sub-ledger" && n == 2 {
                    "stopped"
                } else {
                    "running"
                };
                hosts.push(json!({"guid": format!("host-{}-{suffix}-{n}", &sub[4..]),
                    "name": format!("{}-{suffix}-{n:02}", &sub[4..]), "unit": unit, "state": state}));
            }
        }
    }
    [
        (
            "wecmdb:system",
            systems
                .iter()
                .map(|(g, n)| json!({"guid": g, "name": n, "state": "created"}))
                .collect(),
        ),
        (
            "wecmdb:subsys",
            subsystems
                .iter()
                .map(|(g, n, s)| json!({"guid": g, "name": n, "system": s, "state": "created"}))
                .collect(),
        ),
        ("wecmdb:unit", units),
        ("wecmdb:host", hosts),
    ]
}

fn workflows() -> [Value; 2] {
    let at = |x: i32, y: i32| json!({"x": x, "y": y});
    [
        json!({
            "key": "deploy-subsystem", "name": "Deploy a subsystem", "tags": ["demo"],
            "description": "Checks a subsystem, deploys each of its units, then patches the running hosts of those units.",
            "root_entity": "wecmdb:subsys",
            "nodes": [
                {"id": "start", "kind": "start", "position": at(40, 120)},
                {"id": "check", "name": "Check subsystem", "kind": "script", "binding": "wecmdb:subsys",
                 "script": "`checked ${input.entity.display_name}`", "position": at(240, 120)},
                {"id": "deploy", "name": "Deploy units", "kind": "script",
                 "binding": "wecmdb:subsys~(subsys)wecmdb:unit",
                 "script": "`deployed ${input.entity.display_name}`", "position": at(440, 120)},
                {"id": "patch", "name": "Patch running hosts", "kind": "script",
                 "binding": "wecmdb:subsys~(subsys)wecmdb:unit~(unit)wecmdb:host[state='running']",
                 "script": "`patched ${input.entity.display_name}`", "position": at(640, 120)},
                {"id": "end", "kind": "end", "position": at(840, 120)}
            ],
            "edges": [{"from": "start", "to": "check"}, {"from": "check", "to": "deploy"},
                      {"from": "deploy", "to": "patch"}, {"from": "patch", "to": "end"}]
        }),
        json!({
            "key": "system-health", "name": "System health check", "tags": ["demo"],
            "description": "Looks at every subsystem of a system and every host under it.",
            "root_entity": "wecmdb:system",
            "nodes": [
                {"id": "start", "kind": "start", "position": at(40, 120)},
                {"id": "subsystems", "name": "Check subsystems", "kind": "script",
                 "binding": "wecmdb:system~(system)wecmdb:subsys",
                 "script": "`ok ${input.entity.display_name}`", "position": at(240, 120)},
                {"id": "hosts", "name": "Ping hosts", "kind": "script",
                 "binding": "wecmdb:system~(system)wecmdb:subsys~(subsys)wecmdb:unit~(unit)wecmdb:host",
                 "script": "`pong ${input.entity.display_name}`", "position": at(440, 120)},
                {"id": "end", "kind": "end", "position": at(640, 120)}
            ],
            "edges": [{"from": "start", "to": "subsystems"}, {"from": "subsystems", "to": "hosts"},
                      {"from": "hosts", "to": "end"}]
        }),
    ]
}

/// Loads the demo into an empty database, as `admin`; `false` when it was not empty.
pub async fn load_demo(
    entities: &EntityService,
    definitions: &DefinitionService,
    admin: &User,
) -> Result<bool, EntityError> {
    let empty_catalog = entities.types().await?.is_empty();
    let no_workflows = definitions.list(admin, None, None, 1, 0).await?.total == 0;
    if !(empty_catalog && no_workflows) {
        return Ok(false);
    }
    for t in [
        entity_type("wecmdb:system", "System", &[]),
        entity_type("wecmdb:subsys", "Subsystem", &[("system", "wecmdb:system")]),
        entity_type("wecmdb:unit", "Unit", &[("subsys", "wecmdb:subsys")]),
        entity_type("wecmdb:host", "Host", &[("unit", "wecmdb:unit")]),
    ] {
        entities.put_type(admin, t).await?;
    }
    for (type_id, rows) in catalog() {
        entities.import(admin, type_id, rows).await?;
    }
    for document in workflows() {
        let key = document["key"].as_str().unwrap_or_default().to_string();
        definitions.create(admin, document).await?;
        definitions.publish(&key, &admin.username).await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::Definition;

    #[test]
    fn the_demo_workflows_are_valid_and_the_catalog_is_linked() {
        for w in workflows() {
            let d = Definition::from_value(w).expect("readable");
            assert!(d.check().is_empty(), "{:?}", d.check());
        }
        let [_, subsystems, units, hosts] = catalog();
        assert_eq!(
            (subsystems.1.len(), units.1.len(), hosts.1.len()),
            (4, 8, 12)
        );
        assert!(hosts.1.iter().any(|h| h["state"] == "stopped"));
    }
}
