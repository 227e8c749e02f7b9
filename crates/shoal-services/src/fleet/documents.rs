//! What the fleet index holds for a thing or a group, built from the records of the registry,
//! the shadows and the connectivity that the indexing configuration selects. This module only
//! reads those records; their services own them.
//! <https://docs.aws.amazon.com/iot/latest/developerguide/managing-index.html>

use crate::messaging::{Connectivity, KIND_CONNECTIVITY};
use crate::records::decode;
use crate::registry::{KIND_GROUP, KIND_THING};
use serde_json::{json, Map, Value};
use shoal_domain::error::Result;
use shoal_domain::fleet::config::IndexingConfig;
use shoal_domain::shadow::{delta, Shadow};
use shoal_domain::thing::Thing;
use shoal_domain::thing_group::ThingGroup;
use shoal_index::{FieldValue, IndexDoc};
use shoal_store::{Record, Store};

/// Everything the index needs about one thing.
pub(crate) struct ThingRecords {
    pub thing: Thing,
    /// `(shadow name or "" for the classic one, shadow)`, live shadows only.
    pub shadows: Vec<(String, Shadow)>,
    pub connectivity: Option<Connectivity>,
}

/// Reads one thing's records; `None` when the thing does not exist.
pub(crate) fn load_thing(
    store: &dyn Store,
    part: &str,
    name: &str,
    cfg: &IndexingConfig,
) -> Result<Option<ThingRecords>> {
    match store
        .get(part, KIND_THING, name)
        .map_err(crate::records::store_error)?
    {
        Some(rec) => records_of(store, part, decode(&rec)?, cfg).map(Some),
        None => Ok(None),
    }
}

/// The shadows and connectivity the configuration indexes for a thing: the classic shadow
/// (`THING/`) and each named shadow of the filter (`THING/NAME`), read by key.
pub(crate) fn records_of(
    store: &dyn Store,
    part: &str,
    thing: Thing,
    cfg: &IndexingConfig,
) -> Result<ThingRecords> {
    let get = |kind: &str, key: &str| -> Result<Option<Record>> {
        store
            .get(part, kind, key)
            .map_err(crate::records::store_error)
    };
    let mut wanted: Vec<&str> = Vec::new();
    if cfg.classic_shadow() {
        wanted.push("");
    }
    if cfg.named_shadows {
        wanted.extend(cfg.named_shadow_names.iter().map(String::as_str));
    }
    let mut shadows = Vec::new();
    for shadow_name in wanted {
        if let Some(r) = get(
            crate::shadows::KIND,
            &format!("{}/{shadow_name}", thing.name),
        )? {
            let s: Shadow = decode(&r)?;
            if s.is_live() {
                shadows.push((shadow_name.to_string(), s));
            }
        }
    }
    let connectivity = if cfg.connectivity {
        get(KIND_CONNECTIVITY, &thing.name)?
            .map(|r| decode::<Connectivity>(&r))
            .transpose()?
    } else {
        None
    };
    Ok(ThingRecords {
        thing,
        shadows,
        connectivity,
    })
}

fn push_json(fields: &mut Vec<(String, FieldValue)>, path: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => fields.push((path.to_string(), FieldValue::Bool(*b))),
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                fields.push((path.to_string(), FieldValue::Num(f, n.to_string())));
            }
        }
        Value::String(s) => fields.push((path.to_string(), FieldValue::Str(s.clone()))),
        // Arrays of simple values are indexed element by element; arrays holding objects are
        // not indexed (AWS's query-syntax page).
        Value::Array(items) => {
            if items.iter().all(|i| !i.is_object() && !i.is_array()) {
                for i in items {
                    push_json(fields, path, i);
                }
            }
        }
        Value::Object(o) => {
            for (k, v) in o {
                push_json(fields, &format!("{path}.{k}"), v);
            }
        }
    }
}

/// A shadow's section of the `shadow` JSON and its fields under `prefix`.
fn shadow_part(s: &Shadow, prefix: &str, fields: &mut Vec<(String, FieldValue)>) -> Value {
    let mut out = Map::new();
    let mut meta = Map::new();
    if let Some(d) = &s.desired {
        out.insert("desired".into(), Value::Object(d.clone()));
        push_json(
            fields,
            &format!("{prefix}.desired"),
            &Value::Object(d.clone()),
        );
    }
    if let Some(r) = &s.reported {
        out.insert("reported".into(), Value::Object(r.clone()));
        push_json(
            fields,
            &format!("{prefix}.reported"),
            &Value::Object(r.clone()),
        );
    }
    let delta = delta(s);
    if let Some((d, dm)) = &delta {
        out.insert("delta".into(), Value::Object(d.clone()));
        push_json(
            fields,
            &format!("{prefix}.delta"),
            &Value::Object(d.clone()),
        );
        meta.insert("delta".into(), Value::Object(dm.clone()));
    }
    if let Some(m) = &s.desired_meta {
        meta.insert("desired".into(), Value::Object(m.clone()));
    }
    if let Some(m) = &s.reported_meta {
        meta.insert("reported".into(), Value::Object(m.clone()));
    }
    if !meta.is_empty() {
        out.insert("metadata".into(), Value::Object(meta));
    }
    out.insert("hasDelta".into(), Value::Bool(delta.is_some()));
    out.insert("version".into(), json!(s.version));
    fields.push((
        format!("{prefix}.hasDelta"),
        FieldValue::Bool(delta.is_some()),
    ));
    fields.push((
        format!("{prefix}.version"),
        FieldValue::Num(s.version as f64, s.version.to_string()),
    ));
    Value::Object(out)
}

/// The thing's document: its fields, and SearchIndex's `ThingDocument` as the stored source.
pub(crate) fn thing_doc(r: &ThingRecords, cfg: &IndexingConfig) -> IndexDoc {
    let t = &r.thing;
    let mut fields: Vec<(String, FieldValue)> = Vec::with_capacity(16);
    let s = |v: &str| FieldValue::Str(v.to_string());
    fields.push(("thingName".into(), s(&t.name)));
    fields.push(("thingId".into(), s(&t.id)));
    fields.push((
        "registry.version".into(),
        FieldValue::Num(t.version as f64, t.version.to_string()),
    ));
    let mut source = Map::new();
    source.insert("thingName".into(), json!(t.name));
    source.insert("thingId".into(), json!(t.id));
    if let Some(ty) = &t.type_name {
        fields.push(("thingTypeName".into(), s(ty)));
        source.insert("thingTypeName".into(), json!(ty));
    }
    // The model's ThingDocument: `thingGroupNames` holds "Thing group and billing group names".
    let mut groups = t.all_groups();
    if let Some(b) = &t.billing_group {
        if !groups.contains(b) {
            groups.push(b.clone());
            groups.sort();
        }
    }
    for g in &groups {
        fields.push(("thingGroupNames".into(), s(g)));
    }
    if !groups.is_empty() {
        source.insert("thingGroupNames".into(), json!(groups));
    }
    for (k, v) in &t.attributes {
        fields.push((format!("attributes.{k}"), s(v)));
    }
    if !t.attributes.is_empty() {
        source.insert("attributes".into(), json!(t.attributes));
    }
    if !r.shadows.is_empty() {
        let mut shadow = Map::new();
        let mut named = Map::new();
        for (name, sh) in &r.shadows {
            if name.is_empty() {
                if let Value::Object(o) = shadow_part(sh, "shadow", &mut fields) {
                    shadow.extend(o);
                }
            } else {
                let part = shadow_part(sh, &format!("shadow.name.{name}"), &mut fields);
                named.insert(name.clone(), part);
            }
        }
        if !named.is_empty() {
            shadow.insert("name".into(), Value::Object(named));
        }
        source.insert("shadow".into(), json!(Value::Object(shadow).to_string()));
    }
    if cfg.connectivity {
        let c = r.connectivity.as_ref();
        let connected = c.is_some_and(|c| c.connected);
        fields.push(("connectivity.connected".into(), FieldValue::Bool(connected)));
        let mut conn = Map::new();
        conn.insert("connected".into(), json!(connected));
        if let Some(c) = c {
            fields.push((
                "connectivity.timestamp".into(),
                FieldValue::Num(c.timestamp as f64, c.timestamp.to_string()),
            ));
            fields.push((
                "connectivity.version".into(),
                FieldValue::Num(c.version as f64, c.version.to_string()),
            ));
            conn.insert("timestamp".into(), json!(c.timestamp));
            if let (false, Some(reason)) = (c.connected, &c.disconnect_reason) {
                fields.push(("connectivity.disconnectReason".into(), s(reason)));
                conn.insert("disconnectReason".into(), json!(reason));
            }
        }
        source.insert("connectivity".into(), Value::Object(conn));
    }
    IndexDoc {
        name: t.name.clone(),
        fields,
        source: Value::Object(source).to_string().into_bytes(),
    }
}

/// The group's document, with SearchIndex's `ThingGroupDocument` as the stored source.
pub(crate) fn group_doc(g: &ThingGroup) -> IndexDoc {
    let s = |v: &str| FieldValue::Str(v.to_string());
    let mut fields = vec![
        ("thingGroupName".to_string(), s(&g.name)),
        ("thingGroupId".to_string(), s(&g.id)),
        (
            "version".to_string(),
            FieldValue::Num(g.version as f64, g.version.to_string()),
        ),
    ];
    let mut source = Map::new();
    source.insert("thingGroupName".into(), json!(g.name));
    source.insert("thingGroupId".into(), json!(g.id));
    if let Some(d) = &g.description {
        fields.push(("description".into(), s(d)));
        fields.push(("thingGroupDescription".into(), s(d)));
        source.insert("thingGroupDescription".into(), json!(d));
    }
    for p in &g.root_to_parent {
        fields.push(("parentGroupNames".into(), s(p)));
    }
    if !g.root_to_parent.is_empty() {
        source.insert("parentGroupNames".into(), json!(g.root_to_parent));
    }
    for (k, v) in &g.attributes {
        fields.push((format!("attributes.{k}"), s(v)));
    }
    source.insert("attributes".into(), json!(g.attributes));
    IndexDoc {
        name: g.name.clone(),
        fields,
        source: Value::Object(source).to_string().into_bytes(),
    }
}

/// Reads one group; `None` when it does not exist.
pub(crate) fn load_group(store: &dyn Store, part: &str, name: &str) -> Result<Option<ThingGroup>> {
    store
        .get(part, KIND_GROUP, name)
        .map_err(crate::records::store_error)?
        .map(|r| decode::<ThingGroup>(&r))
        .transpose()
}
