//! The operation catalog: every operation of the Barrack API, once.
//!
//! This table is barrack's single source of truth. It drives the Rhai registration, `barrack ops`,
//! `barrack call`, the REPL's completion, `barrack defs`, the planner, the audit log and the
//! simulator's router. Most paths are *chosen* (the public reference prints only `POST /scripts/`),
//! so every path lives here and nowhere else; `--catalog FILE` can override method and path per
//! operation at run time (see [`Catalog::with_overrides`]).

use super::shape::{self, Field, Rule};
use serde::Serialize;
use std::fmt;

/// HTTP method of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`: reads.
    Get,
    /// `POST`: creates and actions.
    Post,
    /// `PUT`: updates.
    Put,
    /// `DELETE`: deletes.
    Delete,
}

impl Method {
    /// The method as HTTP writes it: `GET`, `POST`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// The method named by `text` (case-insensitive), if it is one.
    pub fn parse(text: &str) -> Option<Method> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of object the API hands out ids for; each is a handle type in Rhai.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Kind {
    /// A virtual machine (`BRK-…`).
    Vm,
    /// A block storage volume.
    Volume,
    /// A snapshot of a machine's disk.
    Snapshot,
    /// A firewall and its rules.
    Firewall,
    /// An SSH public key.
    SshKey,
    /// A startup script.
    Script,
    /// An OS image.
    Image,
}

impl Kind {
    /// Every kind, in the reference's order.
    pub const ALL: [Kind; 7] = [
        Kind::Vm,
        Kind::Volume,
        Kind::Snapshot,
        Kind::Firewall,
        Kind::SshKey,
        Kind::Script,
        Kind::Image,
    ];

    /// The Rhai type name of the handle.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Vm => "Vm",
            Kind::Volume => "Volume",
            Kind::Snapshot => "Snapshot",
            Kind::Firewall => "Firewall",
            Kind::SshKey => "SshKey",
            Kind::Script => "Script",
            Kind::Image => "Image",
        }
    }

    /// What a person calls it in an error message.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Vm => "instance",
            Kind::Volume => "volume",
            Kind::Snapshot => "snapshot",
            Kind::Firewall => "firewall",
            Kind::SshKey => "SSH key",
            Kind::Script => "startup script",
            Kind::Image => "image",
        }
    }

    /// The id prefix the simulator mints (**chosen**; the reference prints only `BRK-…VM` and
    /// `BRK-…D` for instances). Used to pick an operation when an id string alone is given to an
    /// action shared by several kinds, such as `delete("vol-…")`.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Kind::Vm => "BRK-",
            Kind::Volume => "vol-",
            Kind::Snapshot => "snap-",
            Kind::Firewall => "fw-",
            Kind::SshKey => "key-",
            Kind::Script => "scr-",
            Kind::Image => "img-",
        }
    }

    /// The kind an object id belongs to, by its prefix; `None` for an id of no known prefix.
    pub fn from_id(id: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| id.starts_with(k.id_prefix()))
    }
}

/// How one positional Rhai argument of an operation is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "kind", rename_all = "snake_case")]
pub enum ArgType {
    /// An object of this kind: a handle, its id string, or a map with `id`.
    Target(Kind),
    /// One or more objects of this kind, sent as an array of ids.
    Targets(Kind),
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A map whose entries are merged into the request (body, or query for GET).
    Map,
}

/// One positional argument: the request field it fills and its type.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Arg {
    /// The request field the argument fills.
    pub field: &'static str,
    /// Its type.
    #[serde(flatten)]
    pub ty: ArgType,
    /// What the value must be beyond its type (names, sizes), checked like a map's keys.
    #[serde(skip)]
    pub rule: Rule,
}

impl Arg {
    const fn rule(mut self, rule: Rule) -> Arg {
        self.rule = rule;
        self
    }
}

const fn target(field: &'static str, kind: Kind) -> Arg {
    Arg {
        field,
        ty: ArgType::Target(kind),
        rule: Rule::Any,
    }
}
const fn targets(field: &'static str, kind: Kind) -> Arg {
    Arg {
        field,
        ty: ArgType::Targets(kind),
        rule: Rule::Any,
    }
}
const fn string(field: &'static str) -> Arg {
    Arg {
        field,
        ty: ArgType::Str,
        rule: Rule::Any,
    }
}
const fn int(field: &'static str) -> Arg {
    Arg {
        field,
        ty: ArgType::Int,
        rule: Rule::Any,
    }
}
const fn map(field: &'static str) -> Arg {
    Arg {
        field,
        ty: ArgType::Map,
        rule: Rule::Any,
    }
}

/// What a successful call returns, so Rhai can wrap it in handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "shape", content = "kind", rename_all = "snake_case")]
pub enum Returns {
    /// JSON as the server sent it (a map, an array, a number…).
    Raw,
    /// One object of this kind.
    One(Kind),
    /// An array of objects of this kind (every page).
    List(Kind),
}

/// One operation of the Barrack API.
#[derive(Debug, Serialize)]
pub struct Op {
    /// Its typed id.
    pub id: OpId,
    /// Unique name: the Rhai function, the `barrack call` name, the simulator's handler key.
    pub name: &'static str,
    /// Shorter Rhai names (design.md), overloaded on the first argument: `stop(vm)`, `delete(vol)`.
    pub aliases: &'static [&'static str],
    /// The reference's group heading.
    pub group: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// Path template below the base URL, with `{id}` / `{rule_id}`; always ends with `/`.
    pub path: &'static str,
    /// One line, as `barrack ops` and the editor definitions show it.
    pub summary: &'static str,
    /// Changes the world or spends money: recorded by `plan`, audited, keyed for idempotency.
    pub mutates: bool,
    /// A paginated list: the client follows every page.
    pub paginated: bool,
    /// Positional Rhai arguments, in order.
    pub args: &'static [Arg],
    /// How many of `args` are required; the rest are optional trailing ones.
    pub required: usize,
    /// The keys the map argument takes (request body, or query of a GET), each with its type,
    /// default and rule: what every check of a user's map is generated from.
    #[serde(skip)]
    pub fields: &'static [Field],
    /// What the call returns, as scripts see it.
    pub returns: Returns,
}

impl Op {
    /// The kind of object this operation acts on, if its first argument is one.
    pub fn target_kind(&self) -> Option<Kind> {
        match self.args.first().map(|a| a.ty) {
            Some(ArgType::Target(kind)) => Some(kind),
            _ => None,
        }
    }

    /// Names of the `{…}` placeholders of the path, in order.
    pub fn path_params(&self) -> Vec<&'static str> {
        path_params(self.path)
    }

    /// Every Rhai name this operation answers to.
    pub fn rhai_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

/// The `{name}` placeholders of a path template, in order.
pub fn path_params(template: &str) -> Vec<&str> {
    template
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

use Kind::*;
use Method::*;

/// The optional `keys` of a row.
macro_rules! keys_or_none {
    () => {
        &[]
    };
    ($fields:expr) => {
        $fields
    };
}

macro_rules! ops {
    ($( $id:ident $name:literal $([$($alias:literal),*])? : $group:literal $method:ident $path:literal
        $(mutates=$m:literal)? $(paginated=$p:literal)?
        args [$($arg:expr),*] req $req:literal $(keys $fields:ident)? -> $ret:expr ; $summary:literal )*) => {
        /// The typed id of an operation, one variant per row of the table, so a side table keyed
        /// by it (the simulator's handlers, the lifecycle, the planner) cannot name a missing one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum OpId {
            $(#[doc = concat!("`", $name, "`: ", $summary)] $id),*
        }

        /// THE table, in `OpId` order. `mutates` defaults to false, `paginated` to false, `keys`
        /// (the fields of the map argument) to none.
        pub static OPS: &[Op] = &[$(Op {
            id: OpId::$id,
            name: $name,
            aliases: &[$($($alias),*)?],
            group: $group,
            method: $method,
            path: $path,
            summary: $summary,
            mutates: false $(|| $m)?,
            paginated: false $(|| $p)?,
            args: &[$($arg),*],
            required: $req,
            fields: keys_or_none!($(shape::$fields)?),
            returns: $ret,
        }),*];
    };
}

impl OpId {
    /// The catalog row of this id.
    pub fn op(self) -> &'static Op {
        &OPS[self as usize]
    }

    /// The operation's name, as in [`Op::name`].
    pub fn name(self) -> &'static str {
        self.op().name
    }
}

ops! {
    Balance "balance": "Balance" Get "/balance/" args [] req 0 -> Returns::Raw;
        "Get the account's credit balance and currency."
    GpuStocks "gpu_stocks": "GPU Stocks" Get "/gpu-stocks/" args [map("filter")] req 0 keys STOCK_FILTER -> Returns::Raw;
        "Get GPU stock availability per region, model and count."
    GpuSpecs "gpu_specs": "GPU Specs" Get "/gpu-specs/" args [map("filter")] req 0 keys SPEC_FILTER -> Returns::Raw;
        "Get the specifications of every GPU model."
    Regions "regions": "Regions" Get "/regions/" args [] req 0 -> Returns::Raw;
        "List the available regions and their tier."
    Pricing "pricing": "Pricing" Get "/pricing/" args [map("filter")] req 0 keys NO_KEYS -> Returns::Raw;
        "Get the price list: GPU, volume and snapshot rates."
    Quote "quote": "Pricing" Post "/pricing/" args [map("config")] req 1 keys DEPLOY -> Returns::Raw;
        "Quote the hourly cost of a configuration (PricingRequest)."
    Deploy "deploy": "Deploy" Post "/instances/" mutates=true args [map("spec")] req 1 keys DEPLOY -> Returns::One(Vm);
        "Create a new instance (DeploymentRequest)."
    Instances "instances": "Instances" Get "/instances/" paginated=true args [map("filter")] req 0 keys INSTANCE_FILTER -> Returns::List(Vm);
        "List instances (every page; filter by status, region, name glob)."
    Instance "instance": "Instances" Get "/instances/{id}/" args [target("id", Vm)] req 1 -> Returns::One(Vm);
        "Get instance details."
    InstanceBilling "instance_billing" ["billing"]: "Instances" Get "/instances/{id}/billing/" args [target("id", Vm)] req 1 -> Returns::Raw;
        "Get an instance's billing records and summary."
    StartInstance "start_instance" ["start"]: "Instances" Post "/instances/{id}/start/" mutates=true args [target("id", Vm)] req 1 -> Returns::One(Vm);
        "Start a SHUTOFF or HIBERNATED instance."
    StopInstance "stop_instance" ["stop"]: "Instances" Post "/instances/{id}/stop/" mutates=true args [target("id", Vm)] req 1 -> Returns::One(Vm);
        "Stop an ACTIVE instance (SHUTOFF)."
    RebootInstance "reboot_instance" ["reboot"]: "Instances" Post "/instances/{id}/reboot/" mutates=true args [target("id", Vm)] req 1 -> Returns::One(Vm);
        "Reboot an ACTIVE instance."
    HibernateInstance "hibernate_instance" ["hibernate"]: "Instances" Post "/instances/{id}/hibernate/" mutates=true args [target("id", Vm)] req 1 -> Returns::One(Vm);
        "Hibernate an ACTIVE instance: state saved, GPU released, GPU billing stops."
    RestoreInstance "restore_instance" ["restore"]: "Instances" Post "/instances/{id}/restore/" mutates=true args [target("id", Vm)] req 1 -> Returns::One(Vm);
        "Restore a HIBERNATED instance to ACTIVE."
    TogglePublicIp "toggle_public_ip": "Instances" Post "/instances/{id}/public-ip/" mutates=true args [target("id", Vm)] req 1 -> Returns::One(Vm);
        "Toggle the public IP of an instance."
    HibernatedCount "hibernated_count": "Instances" Get "/instances/hibernated/count/" args [] req 0 -> Returns::Raw;
        "Get the number of hibernated instances."
    AddSecurityRule "add_security_rule" ["add_rule"]: "Instances" Post "/instances/{id}/security-rules/" mutates=true args [target("id", Vm), map("rule")] req 2 keys RULE -> Returns::Raw;
        "Add a security rule to an instance (VMSecurityRuleRequest)."
    RemoveSecurityRule "remove_security_rule" ["remove_rule"]: "Instances" Delete "/instances/{id}/security-rules/{rule_id}/" mutates=true args [target("id", Vm), string("rule_id")] req 2 -> Returns::Raw;
        "Remove a security rule from an instance."
    DeleteInstance "delete_instance" ["delete"]: "Instances" Delete "/instances/{id}/" mutates=true args [target("id", Vm)] req 1 -> Returns::Raw;
        "Delete an instance."
    InstanceFirewalls "instance_firewalls" ["firewalls"]: "Instances" Get "/instances/{id}/firewalls/" args [target("id", Vm)] req 1 -> Returns::List(Firewall);
        "Get the firewalls attached to an instance."
    SnapshotEligible "snapshot_eligible": "Instances" Get "/instances/snapshot-eligible/" args [] req 0 -> Returns::List(Vm);
        "List the instances eligible for snapshot creation."
    OsImages "os_images": "OS Images" Get "/os-images/" args [map("filter")] req 0 keys OS_IMAGE_FILTER -> Returns::Raw;
        "List OS images."
    SshKeys "ssh_keys": "SSH Keys" Get "/ssh-keys/" paginated=true args [map("filter")] req 0 keys NAME_ONLY_FILTER -> Returns::List(SshKey);
        "List SSH keys."
    CreateSshKey "create_ssh_key": "SSH Keys" Post "/ssh-keys/" mutates=true args [string("name").rule(shape::SSH_KEY_NAME), string("public_key").rule(shape::PUBLIC_KEY)] req 2 -> Returns::One(SshKey);
        "Create (import) an SSH key."
    SshKey "ssh_key": "SSH Keys" Get "/ssh-keys/{id}/" args [target("id", SshKey)] req 1 -> Returns::One(SshKey);
        "Get an SSH key."
    DeleteSshKey "delete_ssh_key" ["delete"]: "SSH Keys" Delete "/ssh-keys/{id}/" mutates=true args [target("id", SshKey)] req 1 -> Returns::Raw;
        "Delete an SSH key."
    Volumes "volumes": "Volumes" Get "/volumes/" paginated=true args [map("filter")] req 0 keys VOLUME_FILTER -> Returns::List(Volume);
        "List volumes."
    CreateVolume "create_volume": "Volumes" Post "/volumes/" mutates=true args [map("spec")] req 1 keys CREATE_VOLUME -> Returns::One(Volume);
        "Create a volume (name, size_gb, region, type, bootable)."
    Volume "volume": "Volumes" Get "/volumes/{id}/" args [target("id", Volume)] req 1 -> Returns::One(Volume);
        "Get volume details."
    DeleteVolume "delete_volume" ["delete"]: "Volumes" Delete "/volumes/{id}/" mutates=true args [target("id", Volume)] req 1 -> Returns::Raw;
        "Delete a volume."
    ResizeVolume "resize_volume" ["resize"]: "Volumes" Post "/volumes/{id}/resize/" mutates=true args [target("id", Volume), int("size_gb").rule(shape::VOLUME_SIZE)] req 2 -> Returns::One(Volume);
        "Resize a volume to a larger size in GB."
    CloneVolume "clone_volume" ["clone"]: "Volumes" Post "/volumes/{id}/clone/" mutates=true args [target("id", Volume), string("name").rule(shape::VOLUME_NAME)] req 2 -> Returns::One(Volume);
        "Clone a volume under a new name."
    AttachVolumes "attach_volumes" ["attach"]: "Volumes" Post "/instances/{id}/volumes/attach/" mutates=true args [target("id", Vm), targets("volume_ids", Volume)] req 2 -> Returns::Raw;
        "Attach volumes to an ACTIVE instance in the same region."
    DetachVolumes "detach_volumes" ["detach"]: "Volumes" Post "/instances/{id}/volumes/detach/" mutates=true args [target("id", Vm), targets("volume_ids", Volume)] req 2 -> Returns::Raw;
        "Detach volumes from an instance."
    VolumeTypes "volume_types": "Volumes" Get "/volumes/types/" args [] req 0 -> Returns::Raw;
        "List the available volume types."
    VolumeBilling "volume_billing" ["billing"]: "Volumes" Get "/volumes/{id}/billing/" args [target("id", Volume)] req 1 -> Returns::Raw;
        "Get a volume's billing records and summary."
    Firewalls "firewalls": "Firewalls" Get "/firewalls/" paginated=true args [map("filter")] req 0 keys FIREWALL_FILTER -> Returns::List(Firewall);
        "List firewalls."
    CreateFirewall "create_firewall": "Firewalls" Post "/firewalls/" mutates=true args [map("spec")] req 1 keys CREATE_FIREWALL -> Returns::One(Firewall);
        "Create a firewall (name, region, rules)."
    Firewall "firewall": "Firewalls" Get "/firewalls/{id}/" args [target("id", Firewall)] req 1 -> Returns::One(Firewall);
        "Get firewall details."
    DeleteFirewall "delete_firewall" ["delete"]: "Firewalls" Delete "/firewalls/{id}/" mutates=true args [target("id", Firewall)] req 1 -> Returns::Raw;
        "Delete a firewall (it must be detached from every instance first)."
    Protocols "protocols": "Firewalls" Get "/firewalls/protocols/" args [] req 0 -> Returns::Raw;
        "Get the supported firewall protocols."
    AvailableInstances "available_instances": "Firewalls" Get "/firewalls/{id}/available-instances/" args [target("id", Firewall)] req 1 -> Returns::List(Vm);
        "List the instances available for attachment to a firewall."
    AddFirewallRule "add_firewall_rule" ["add_rule"]: "Firewalls" Post "/firewalls/{id}/rules/" mutates=true args [target("id", Firewall), map("rule")] req 2 keys RULE -> Returns::Raw;
        "Add a rule to a firewall (takes up to 10 minutes to apply)."
    RemoveFirewallRule "remove_firewall_rule" ["remove_rule"]: "Firewalls" Delete "/firewalls/{id}/rules/{rule_id}/" mutates=true args [target("id", Firewall), string("rule_id")] req 2 -> Returns::Raw;
        "Remove a rule from a firewall."
    AttachFirewall "attach_firewall" ["attach"]: "Firewalls" Post "/firewalls/{id}/attach/" mutates=true args [target("id", Firewall), targets("instance_ids", Vm)] req 2 -> Returns::Raw;
        "Attach a firewall to more instances; those it is attached to stay attached. Detach with detach_firewall (alias detach)."
    DetachFirewall "detach_firewall" ["detach"]: "Firewalls" Post "/firewalls/{id}/detach/" mutates=true args [target("id", Firewall), targets("instance_ids", Vm)] req 2 -> Returns::Raw;
        "Detach a firewall from instances (a chosen route: the reference lists no detach operation)."
    Scripts "scripts": "Scripts" Get "/scripts/" paginated=true args [map("filter")] req 0 keys NAME_ONLY_FILTER -> Returns::List(Script);
        "List all startup scripts."
    CreateScript "create_script": "Scripts" Post "/scripts/" mutates=true args [string("name").rule(shape::SCRIPT_NAME), string("script").rule(shape::SCRIPT_CONTENT)] req 2 -> Returns::One(Script);
        "Create a startup script; the server answers 201 with no body, so the new script is found by its name."
    Script "script": "Scripts" Get "/scripts/{id}/" args [target("id", Script)] req 1 -> Returns::One(Script);
        "Get startup script details."
    UpdateScript "update_script": "Scripts" Put "/scripts/{id}/" mutates=true args [target("id", Script), map("fields")] req 2 keys UPDATE_SCRIPT -> Returns::One(Script);
        "Update a startup script's name or content."
    DeleteScript "delete_script" ["delete"]: "Scripts" Delete "/scripts/{id}/" mutates=true args [target("id", Script)] req 1 -> Returns::Raw;
        "Delete a startup script."
    DeleteScripts "delete_scripts": "Scripts" Delete "/scripts/" mutates=true args [targets("ids", Script)] req 1 -> Returns::Raw;
        "Delete several startup scripts at once."
    Snapshots "snapshots": "Snapshots" Get "/snapshots/" paginated=true args [map("filter")] req 0 keys SNAPSHOT_FILTER -> Returns::List(Snapshot);
        "List snapshots."
    Snapshot "snapshot" ["create_snapshot"]: "Snapshots" Post "/snapshots/" mutates=true args [target("instance_id", Vm), string("name")] req 1 -> Returns::One(Snapshot);
        "Create a snapshot of an ACTIVE instance (name optional)."
    GetSnapshot "get_snapshot": "Snapshots" Get "/snapshots/{id}/" args [target("id", Snapshot)] req 1 -> Returns::One(Snapshot);
        "Get snapshot details."
    DeleteSnapshot "delete_snapshot" ["delete"]: "Snapshots" Delete "/snapshots/{id}/" mutates=true args [target("id", Snapshot)] req 1 -> Returns::Raw;
        "Delete a snapshot."
    SnapshotBilling "snapshot_billing" ["billing"]: "Snapshots" Get "/snapshots/{id}/billing/" args [target("id", Snapshot)] req 1 -> Returns::Raw;
        "Get a snapshot's storage billing."
    RestoreSnapshot "restore_snapshot": "Snapshots" Post "/snapshots/{id}/restore/" mutates=true args [target("id", Snapshot), string("name").rule(shape::RESTORED_NAME)] req 2 -> Returns::One(Vm);
        "Restore a snapshot into a new instance (id BRK-…D)."
    Images "images": "Images" Get "/images/" paginated=true args [map("filter")] req 0 keys IMAGE_FILTER -> Returns::List(Image);
        "List custom images."
    Image "image": "Images" Get "/images/{id}/" args [target("id", Image)] req 1 -> Returns::One(Image);
        "Get custom image details."
    DeleteImage "delete_image" ["delete"]: "Images" Delete "/images/{id}/" mutates=true args [target("id", Image)] req 1 -> Returns::Raw;
        "Delete a custom image."
    CreateImage "create_image": "Images" Post "/snapshots/{id}/image/" mutates=true args [target("id", Snapshot), string("name")] req 1 -> Returns::One(Image);
        "Create a custom image from a snapshot (name optional)."
    SnapshotImage "snapshot_image": "Images" Get "/snapshots/{id}/image/" args [target("id", Snapshot)] req 1 -> Returns::Raw;
        "Get the image made from a snapshot, if any."
    SnapshotImages "snapshot_images": "Images" Post "/snapshots/images/" args [targets("snapshot_ids", Snapshot)] req 1 -> Returns::Raw;
        "Get the snapshot-image relationships of several snapshots."
    AiModels "ai_models": "AI Chat" Get "/ai/models/" args [] req 0 -> Returns::Raw;
        "Get the available AI models."
    Chat "chat": "AI Chat" Post "/ai/chat/completions/" mutates=true args [map("request")] req 1 keys CHAT -> Returns::Raw;
        "Chat with an AI model (OpenAI-style ChatCompletionsRequest; spends credits)."
    AiUsage "ai_usage": "AI Chat" Get "/ai/usage/summary/" args [] req 0 -> Returns::Raw;
        "Get the AI usage summary."
    AiUsageHistory "ai_usage_history": "AI Chat" Get "/ai/usage/history/" paginated=true args [map("filter")] req 0 keys AI_USAGE_FILTER -> Returns::Raw;
        "Get the AI usage history."
}

/// Creations whose outcome can be found out by name when it is unknown (a lost answer, then
/// failed retries): the operation, the kind it makes, and the request field holding the name.
/// The list to search is the kind's list operation ([`list_op`]).
pub static CREATED_BY_NAME: &[(OpId, Kind, &str)] = &[
    (OpId::Deploy, Vm, "name"),
    (OpId::RestoreSnapshot, Vm, "name"),
    (OpId::CreateVolume, Volume, "name"),
    (OpId::CreateFirewall, Firewall, "name"),
    (OpId::CreateSshKey, SshKey, "name"),
    (OpId::CreateScript, Script, "name"),
    (OpId::Snapshot, Snapshot, "name"),
    (OpId::CreateImage, Image, "name"),
];

/// The kind an operation creates and the field naming it, if it is in [`CREATED_BY_NAME`].
pub fn created_by_name(op: &Op) -> Option<(Kind, &'static str)> {
    CREATED_BY_NAME
        .iter()
        .find(|(id, _, _)| *id == op.id)
        .map(|(_, kind, field)| (*kind, *field))
}

/// The operation listing every object of a kind (every page).
pub fn list_op(kind: Kind) -> Option<&'static Op> {
    OPS.iter().find(|op| {
        op.method == Method::Get && op.returns == Returns::List(kind) && op.path_params().is_empty()
    })
}

/// The operation reading one object of a kind by its id.
pub fn get_op(kind: Kind) -> Option<&'static Op> {
    OPS.iter().find(|op| {
        op.method == Method::Get && op.returns == Returns::One(kind) && op.path_params() == ["id"]
    })
}

/// Look an operation up by its unique name.
pub fn find(name: &str) -> Option<&'static Op> {
    OPS.iter().find(|op| op.name == name)
}

/// Operations that answer to a Rhai name (its own or an alias).
pub fn by_rhai_name(name: &str) -> impl Iterator<Item = &'static Op> + '_ {
    OPS.iter()
        .filter(move |op| op.rhai_names().any(|n| n == name))
}

/// The catalog in force: the built-in table with any per-operation route overrides.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    overrides: std::collections::HashMap<&'static str, (Method, String)>,
}

/// One entry of an override file: the shape `barrack ops --json` prints.
#[derive(serde::Deserialize)]
struct OverrideEntry {
    name: String,
    method: Option<String>,
    path: Option<String>,
}

impl Catalog {
    /// The catalog compiled into barrack: every row of [`OPS`].
    pub fn builtin() -> Catalog {
        Catalog::default()
    }

    /// Apply an override file (JSON array in `barrack ops --json` form). Every entry must name a
    /// known operation and carry a well-formed template with the same placeholders.
    pub fn with_overrides(json: &str) -> Result<Catalog, String> {
        let entries: Vec<OverrideEntry> = serde_json::from_str(json)
            .map_err(|e| format!("not a JSON array of operations: {e}"))?;
        let mut overrides = std::collections::HashMap::new();
        for entry in entries {
            let op = find(&entry.name)
                .ok_or_else(|| format!("entry {:?}: no such operation", entry.name))?;
            let method = match &entry.method {
                Some(m) => Method::parse(m).ok_or_else(|| {
                    format!(
                        "entry {:?}: method {m:?} is not GET, POST, PUT or DELETE",
                        entry.name
                    )
                })?,
                None => op.method,
            };
            let path = entry.path.clone().unwrap_or_else(|| op.path.to_string());
            check_template(&path).map_err(|why| format!("entry {:?}: {why}", entry.name))?;
            if path_params(&path) != op.path_params() {
                return Err(format!(
                    "entry {:?}: path {path:?} must use the placeholders {:?}",
                    entry.name,
                    op.path_params()
                ));
            }
            overrides.insert(op.name, (method, path));
        }
        Ok(Catalog { overrides })
    }

    /// Method and path template of an operation as configured.
    pub fn route(&self, op: &'static Op) -> (Method, &str) {
        match self.overrides.get(op.name) {
            Some((method, path)) => (*method, path.as_str()),
            None => (op.method, op.path),
        }
    }
}

/// A path template starts and ends with `/` and has only well-formed `{name}` placeholders.
pub fn check_template(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(format!("path {path:?} must start and end with '/'"));
    }
    for seg in path.split('/') {
        let opens = seg.matches('{').count();
        let closes = seg.matches('}').count();
        let whole = seg.starts_with('{') && seg.ends_with('}') && opens == 1 && closes == 1;
        if (opens > 0 || closes > 0) && !whole {
            return Err(format!(
                "path {path:?} has a malformed placeholder in {seg:?}"
            ));
        }
        if whole && seg.len() == 2 {
            return Err(format!("path {path:?} has an empty placeholder"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_shared_rhai_names_dispatch_on_the_first_argument() {
        let mut seen = HashSet::new();
        for op in OPS {
            assert!(seen.insert(op.name), "duplicate op name {}", op.name);
        }
        // `delete(vm)` and `delete(volume)`, `firewalls()` and `firewalls(vm)`: ops sharing a Rhai
        // name must be told apart by the type of their first argument.
        for a in OPS {
            for b in OPS {
                if a.name >= b.name {
                    continue;
                }
                for name in a.rhai_names() {
                    if b.rhai_names().any(|n| n == name) {
                        assert_ne!(
                            a.args.first().map(|x| x.ty),
                            b.args.first().map(|x| x.ty),
                            "{} and {} share {name} with the same first argument",
                            a.name,
                            b.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_kind_is_listed_and_read_by_one_operation() {
        let expected = [
            (Kind::Vm, OpId::Instances, OpId::Instance),
            (Kind::Volume, OpId::Volumes, OpId::Volume),
            (Kind::Snapshot, OpId::Snapshots, OpId::GetSnapshot),
            (Kind::Firewall, OpId::Firewalls, OpId::Firewall),
            (Kind::SshKey, OpId::SshKeys, OpId::SshKey),
            (Kind::Script, OpId::Scripts, OpId::Script),
            (Kind::Image, OpId::Images, OpId::Image),
        ];
        assert_eq!(expected.len(), Kind::ALL.len());
        for (kind, list, get) in expected {
            assert_eq!(list_op(kind).map(|op| op.id), Some(list), "{kind:?}");
            assert_eq!(get_op(kind).map(|op| op.id), Some(get), "{kind:?}");
        }
    }

    #[test]
    fn every_creation_checked_by_name_has_a_list_and_takes_a_name() {
        for (id, kind, field) in CREATED_BY_NAME {
            let op = id.op();
            let name = op.name;
            assert!(op.mutates && op.method == Method::Post, "{name}");
            assert!(list_op(*kind).is_some(), "{name}: nothing lists {kind:?}");
            assert!(get_op(*kind).is_some(), "{name}: nothing reads {kind:?}");
            let named = op
                .args
                .iter()
                .any(|a| a.field == *field || a.ty == ArgType::Map);
            assert!(named, "{name}: no argument carries {field}");
        }
    }

    #[test]
    fn ids_index_the_table_and_every_map_argument_has_its_keys() {
        for (i, op) in OPS.iter().enumerate() {
            assert_eq!(op.id as usize, i, "{}", op.name);
            assert_eq!(op.id.op().name, op.name);
            let takes_map = op.args.iter().any(|a| a.ty == ArgType::Map);
            // A map argument without keys accepts none: only `pricing(#{})` is meant that way.
            if takes_map && op.fields.is_empty() {
                assert_eq!(op.id, OpId::Pricing, "{} lists no keys", op.name);
            }
            if !takes_map {
                assert!(op.fields.is_empty(), "{} has keys but no map", op.name);
            }
            let mut seen = HashSet::new();
            for f in op.fields {
                assert!(
                    seen.insert(f.name) && (f.key == f.name || seen.insert(f.key)),
                    "{}: {} twice",
                    op.name,
                    f.name
                );
            }
        }
    }

    #[test]
    fn every_path_is_a_well_formed_template() {
        for op in OPS {
            check_template(op.path).unwrap_or_else(|e| panic!("{}: {e}", op.name));
        }
    }

    #[test]
    fn path_placeholders_are_filled_by_arguments() {
        for op in OPS {
            for param in op.path_params() {
                assert!(
                    op.args.iter().any(|a| a.field == param),
                    "{}: no argument fills {{{param}}}",
                    op.name
                );
            }
            assert!(op.required <= op.args.len(), "{}", op.name);
        }
    }

    #[test]
    fn routes_are_unambiguous() {
        let mut seen = HashSet::new();
        for op in OPS {
            assert!(
                seen.insert((op.method, op.path)),
                "{} {} twice",
                op.method,
                op.path
            );
        }
    }

    #[test]
    fn the_contract_has_every_operation() {
        // barrack-api.md lists 68 operations once the combined rows are split, and barrack adds
        // one route the reference lacks: detach_firewall (see api::choices).
        assert_eq!(OPS.len(), 69);
        assert_eq!(find("deploy").map(|o| o.path), Some("/instances/"));
        assert_eq!(find("create_script").map(|o| o.method), Some(Method::Post));
    }

    #[test]
    fn overrides_change_one_route_and_reject_bad_entries() {
        let cat = Catalog::with_overrides(r#"[{"name":"balance","path":"/v2/balance/"}]"#).unwrap();
        assert_eq!(cat.route(find("balance").unwrap()).1, "/v2/balance/");
        assert_eq!(cat.route(find("regions").unwrap()).1, "/regions/");
        let err = Catalog::with_overrides(r#"[{"name":"nope"}]"#).unwrap_err();
        assert!(err.contains("\"nope\""), "{err}");
        let err = Catalog::with_overrides(r#"[{"name":"instance","path":"/instances/{x/"}]"#)
            .unwrap_err();
        assert!(err.contains("malformed"), "{err}");
        let err =
            Catalog::with_overrides(r#"[{"name":"instance","path":"/instances/"}]"#).unwrap_err();
        assert!(err.contains("placeholders"), "{err}");
    }
}
