//! The shape of every request: the keys a map argument takes, each with its type, default, rule
//! and tier. The catalog row of an operation points at one of these lists, and every check of a
//! user's map (Rhai, `barrack call`, the planner, the simulator), the REPL's key completion,
//! `barrack ops NAME`, the editor definitions and `/openapi.json` are generated from it.
//!
//! Field names on the wire are *chosen* (the reference prints schema names only, see
//! barrack-api.md); a field whose rule the reference does not print says so with `chosen`.

use super::catalog::{Arg, ArgType, Kind};
use super::{facts, lifecycle, rules};

/// The tier of regions a key applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Both,
    Advanced,
    Legacy,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Both => "both",
            Tier::Advanced => "advanced",
            Tier::Legacy => "legacy",
        }
    }
}

/// What a value must be.
#[derive(Clone, Copy, Debug)]
pub enum FieldType {
    Text,
    Int,
    /// Any number (`temperature: 0.7`).
    Number,
    Bool,
    /// One object's id (a handle is sent as its id).
    Id(Kind),
    /// A list of ids; one id alone counts as a list of one.
    Ids(Kind),
    /// A list of maps, each with the keys of the given list (rules, chat messages).
    Maps(&'static [Field]),
}

impl FieldType {
    /// How documentation names the type.
    pub fn describe(self) -> String {
        match self {
            FieldType::Text => "String".into(),
            FieldType::Int => "int".into(),
            FieldType::Number => "float".into(),
            FieldType::Bool => "bool".into(),
            FieldType::Id(kind) => format!("{} | String", kind.type_name()),
            FieldType::Ids(kind) => format!("Array<{}> | {}", kind.type_name(), kind.type_name()),
            FieldType::Maps(_) => "Array<Map>".into(),
        }
    }
}

/// The values a field allows, beyond its type.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    Any,
    /// One of these, exactly; the noun names what they are in messages ("GPU model").
    OneOf(&'static [&'static str], &'static str),
    /// One of these, in any letter case (the server normalises).
    OneOfAnyCase(&'static [&'static str], &'static str),
    /// A whole number in this range, inclusive.
    Range(i64, i64),
    /// One of these numbers.
    Counts(&'static [i64]),
    /// A check from `rules.rs` (names, sizes in bytes…), with how documentation words it.
    Check(fn(&str) -> Result<(), String>, &'static str),
    /// A check of a whole number from `rules.rs`, in the reference's words.
    IntCheck(fn(i64) -> Result<(), String>, &'static str),
}

impl Rule {
    pub fn describe(self) -> String {
        match self {
            Rule::Any => String::new(),
            Rule::OneOf(values, _) | Rule::OneOfAnyCase(values, _) => {
                format!("one of {}", values.join(", "))
            }
            Rule::Range(low, high) => format!("{low}–{high}"),
            Rule::Counts(values) => format!(
                "one of {}",
                values
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Rule::Check(_, words) | Rule::IntCheck(_, words) => words.into(),
        }
    }
}

/// One key of a request.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The field as sent to the server.
    pub name: &'static str,
    /// The key a script writes, when it differs (`gpu` for `gpu_model`); both are accepted.
    pub key: &'static str,
    pub ty: FieldType,
    /// The server refuses the request without it.
    pub required: bool,
    /// What happens when it is left out (documentation; empty: nothing is sent).
    pub default: &'static str,
    pub rule: Rule,
    pub tier: Tier,
    pub doc: &'static str,
    /// The reference prints nothing about this field's name or rule: barrack's choice.
    pub chosen: bool,
}

const fn field(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    Field {
        name,
        key: name,
        ty,
        required: false,
        default: "",
        rule: Rule::Any,
        tier: Tier::Both,
        doc,
        chosen: false,
    }
}

impl Field {
    const fn key(mut self, key: &'static str) -> Field {
        self.key = key;
        self
    }
    const fn required(mut self) -> Field {
        self.required = true;
        self
    }
    const fn default(mut self, default: &'static str) -> Field {
        self.default = default;
        self
    }
    const fn rule(mut self, rule: Rule) -> Field {
        self.rule = rule;
        self
    }
    const fn tier(mut self, tier: Tier) -> Field {
        self.tier = tier;
        self
    }
    const fn chosen(mut self) -> Field {
        self.chosen = true;
        self
    }

    /// A positional argument described as a field (`None` for the map argument itself).
    pub fn of_arg(arg: &Arg, required: bool) -> Option<Field> {
        let ty = match arg.ty {
            ArgType::Target(kind) => FieldType::Id(kind),
            ArgType::Targets(kind) => FieldType::Ids(kind),
            ArgType::Str => FieldType::Text,
            ArgType::Int => FieldType::Int,
            ArgType::Map => return None,
        };
        let mut field = field(arg.field, ty, "positional argument").rule(arg.rule);
        field.required = required;
        Some(field)
    }

    /// The key a script writes (the API name when there is no shorter one).
    pub fn script_key(&self) -> &'static str {
        self.key
    }

    /// Whether a key a user typed names this field.
    pub fn answers_to(&self, key: &str) -> bool {
        self.key == key || self.name == key
    }

    /// One line for `barrack ops NAME` and `:help NAME`: key, type, default, rule, tier.
    pub fn line(&self) -> String {
        let mut text = format!("{}: {}", self.key, self.ty.describe());
        if self.key != self.name {
            text.push_str(&format!(" (sent as {})", self.name));
        }
        if self.required {
            text.push_str(", required");
        }
        if !self.default.is_empty() {
            text.push_str(&format!(", default {}", self.default));
        }
        let rule = self.rule.describe();
        if !rule.is_empty() {
            text.push_str(&format!(", {rule}"));
        }
        if self.tier != Tier::Both {
            text.push_str(&format!(", {} regions only", self.tier.as_str()));
        }
        text.push_str(&format!(" — {}", self.doc));
        if self.chosen {
            text.push_str(" (chosen: the reference does not print it)");
        }
        text
    }
}

const REGION_ONE_OF: Rule = Rule::OneOf(&facts::REGIONS, "region");
const GPU_ONE_OF: Rule = Rule::OneOf(&facts::GPU_MODELS, "GPU model");
const TIERS: Rule = Rule::OneOf(&["advanced", "legacy"], "tier");

fn instance_name(name: &str) -> Result<(), String> {
    rules::instance_name(name)
}
fn volume_name(name: &str) -> Result<(), String> {
    rules::volume_name(name)
}
fn script_name(name: &str) -> Result<(), String> {
    rules::script_name(name)
}
fn script_content(body: &str) -> Result<(), String> {
    rules::script_content(body)
}
fn standard_volume_size(size: i64) -> Result<(), String> {
    rules::volume_size(size, false)
}

// Rules of positional arguments (`create_script(name, body)`), attached in the catalog's rows.
pub const SSH_KEY_NAME: Rule = Rule::Check(ssh_key_name, "1–64 characters");
pub const PUBLIC_KEY: Rule = Rule::Check(public_key, "an OpenSSH public key line");
pub const VOLUME_SIZE: Rule = Rule::IntCheck(standard_volume_size, "10–1048576");
pub const VOLUME_NAME: Rule = Rule::Check(volume_name, "letters, digits, spaces, -, _, .");
pub const SCRIPT_NAME: Rule = Rule::Check(script_name, "letters, digits, spaces, -, _, .");
pub const SCRIPT_CONTENT: Rule = Rule::Check(script_content, "at most 16384 bytes");
pub const RESTORED_NAME: Rule = Rule::Check(
    restored_instance_name,
    "2–30 letters, digits, -, _; unique across the account",
);

fn ssh_key_name(name: &str) -> Result<(), String> {
    rules::ssh_key_name(name)
}
fn public_key(key: &str) -> Result<(), String> {
    rules::public_key(key)
}
fn restored_instance_name(name: &str) -> Result<(), String> {
    rules::restored_instance_name(name)
}

/// A firewall rule or an instance security rule (AddFirewallRuleRequest, VMSecurityRuleRequest).
pub const RULE: &[Field] = &[
    field(
        "protocol",
        FieldType::Text,
        "TCP, UDP, ICMP, … (see protocols())",
    )
    .required(),
    field(
        "direction",
        FieldType::Text,
        "traffic direction (DirectionEnum)",
    )
    .rule(Rule::OneOfAnyCase(&["ingress", "egress"], "direction"))
    .default("ingress")
    .chosen(),
    field("ethertype", FieldType::Text, "IP version (EthertypeEnum)")
        .rule(Rule::OneOf(&["IPv4", "IPv6"], "ethertype"))
        .default("IPv4")
        .chosen(),
    field("remote_ip_prefix", FieldType::Text, "remote CIDR")
        .default("0.0.0.0/0 (::/0 for IPv6)")
        .chosen(),
    field("port_range", FieldType::Text, "\"22\" or \"8000-9000\"").chosen(),
    field("port_range_min", FieldType::Int, "lowest port, 1–65535").chosen(),
    field(
        "port_range_max",
        FieldType::Int,
        "highest port, 1–65535, at least the lowest",
    )
    .chosen(),
];

/// DeploymentRequest. `quote` takes the same keys (one vocabulary), pricing the ones that cost.
pub const DEPLOY: &[Field] = &[
    field("gpu_model", FieldType::Text, "GPU model (GpuModelEnum)")
        .key("gpu")
        .required()
        .rule(GPU_ONE_OF),
    field("gpu_count", FieldType::Int, "GPUs (GpuCountEnum)")
        .key("count")
        .required()
        .default("1 (Rhai)")
        .rule(Rule::IntCheck(rules::gpu_count, "1, 2, 4 or 8")),
    field("region", FieldType::Text, "region (RegionEnum); the GPU model must be offered there")
        .required()
        .default("the first region with stock, advanced first (Rhai)")
        .rule(REGION_ONE_OF),
    field("name", FieldType::Text, "instance name, unique per region")
        .default("barrack-{gpu}-{random}")
        .rule(Rule::Check(
            instance_name,
            "3–30 letters, digits, -, _; not starting or ending with - or _",
        )),
    field("os_image_id", FieldType::Text, "boot source: an OS image id (see os_images())")
        .key("os_image")
        .default("the first OS image, when no boot source is given (Rhai)"),
    field("volume_id", FieldType::Id(Kind::Volume), "boot source: a bootable volume").key("volume"),
    field("image_id", FieldType::Id(Kind::Image), "boot source: a custom image").key("image"),
    field("ssh_key_ids", FieldType::Ids(Kind::SshKey), "SSH keys; required for OS-image and custom-image boots, refused for volume boots (advanced)")
        .key("ssh_keys")
        .default("the account's only key, when the boot needs one (Rhai)"),
    field("os_volume_size_gb", FieldType::Int, "OS volume size in GB (NVMe)")
        .key("os_volume_gb")
        .default("100")
        .rule(Rule::IntCheck(rules::os_volume_size, "100–10000"))
        .tier(Tier::Advanced),
    field("startup_script_id", FieldType::Id(Kind::Script), "startup script to run at first boot")
        .key("startup_script")
        .tier(Tier::Advanced),
    field("volume_ids", FieldType::Ids(Kind::Volume), "data volumes to attach")
        .key("volumes")
        .tier(Tier::Advanced),
    field("public_ip", FieldType::Bool, "public IP switch")
        .default("false")
        .tier(Tier::Legacy)
        .chosen(),
    field("security_rules", FieldType::Maps(RULE), "security rules, each with the keys of add_rule")
        .tier(Tier::Legacy),
    field("cloud_init", FieldType::Text, "cloud-init user data")
        .tier(Tier::Legacy)
        .chosen(),
];

pub const CREATE_VOLUME: &[Field] = &[
    field(
        "name",
        FieldType::Text,
        "volume name, unique across the account",
    )
    .required()
    .rule(Rule::Check(volume_name, "letters, digits, spaces, -, _, .")),
    field(
        "size_gb",
        FieldType::Int,
        "size in GB; at least 100 when bootable",
    )
    .required()
    .rule(Rule::IntCheck(
        standard_volume_size,
        "10–1048576 (at least 100 when bootable)",
    )),
    field("region", FieldType::Text, "an advanced region")
        .required()
        .rule(REGION_ONE_OF),
    field(
        "type",
        FieldType::Text,
        "volume type (VolumeTypeEnum; see volume_types())",
    )
    .default("NVMe")
    .rule(Rule::OneOf(&facts::VOLUME_TYPES, "volume type"))
    .chosen(),
    field(
        "bootable",
        FieldType::Bool,
        "can boot an instance (then NVMe, with an OS image)",
    )
    .default("false"),
    field(
        "os_image_id",
        FieldType::Text,
        "OS image of a bootable volume",
    )
    .key("os_image"),
];

pub const CREATE_FIREWALL: &[Field] = &[
    field("name", FieldType::Text, "firewall name")
        .required()
        .rule(Rule::Check(firewall_name, "1–64 characters"))
        .chosen(),
    field("region", FieldType::Text, "an advanced region")
        .required()
        .rule(REGION_ONE_OF),
    field("description", FieldType::Text, "free text"),
    field(
        "rules",
        FieldType::Maps(RULE),
        "rules, each with the keys of add_rule",
    ),
];

fn firewall_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > 64 {
        return Err("Firewall name must be 1-64 characters long".into());
    }
    Ok(())
}

pub const UPDATE_SCRIPT: &[Field] = &[
    field("name", FieldType::Text, "new name").rule(SCRIPT_NAME),
    field("script", FieldType::Text, "new content").rule(SCRIPT_CONTENT),
];

const MESSAGE: &[Field] = &[
    field("role", FieldType::Text, "who speaks")
        .required()
        .rule(Rule::OneOf(&["system", "user", "assistant"], "role")),
    field("content", FieldType::Text, "the text").required(),
];

/// ChatCompletionsRequest (OpenAI-style).
pub const CHAT: &[Field] = &[
    field("model", FieldType::Text, "a model id from ai_models()").required(),
    field(
        "messages",
        FieldType::Maps(MESSAGE),
        "the conversation, each #{role, content}",
    )
    .required(),
    field("temperature", FieldType::Number, "sampling temperature").chosen(),
    field("max_tokens", FieldType::Int, "longest answer in tokens")
        .rule(Rule::Range(1, 1_000_000))
        .chosen(),
];

// List filters: each key must match (strings may be globs: `name: "train-*"`); they are also
// sent as query parameters. The reference prints no filters at all, so every one is chosen.
const fn filter(name: &'static str, ty: FieldType, doc: &'static str) -> Field {
    field(name, ty, doc).chosen()
}
const NAME_FILTER: Field = filter(
    "name",
    FieldType::Text,
    "name, or a glob such as \"train-*\"",
);
const REGION_FILTER: Field = filter("region", FieldType::Text, "region").rule(REGION_ONE_OF);
const GPU_FILTER: Field = filter("gpu_model", FieldType::Text, "GPU model")
    .key("gpu")
    .rule(GPU_ONE_OF);
const TIER_FILTER: Field = filter("tier", FieldType::Text, "region tier").rule(TIERS);

pub const INSTANCE_FILTER: &[Field] = &[
    filter("status", FieldType::Text, "instance state")
        .rule(Rule::OneOf(&lifecycle::VM_STATES, "instance state")),
    REGION_FILTER,
    NAME_FILTER,
    GPU_FILTER,
    filter("gpu_count", FieldType::Int, "GPUs")
        .key("count")
        .rule(Rule::Counts(&facts::GPU_COUNTS)),
    TIER_FILTER,
];
pub const VOLUME_FILTER: &[Field] = &[
    filter("status", FieldType::Text, "volume state")
        .rule(Rule::OneOf(&facts::VOLUME_STATES, "volume state"))
        .chosen(),
    REGION_FILTER,
    NAME_FILTER,
    filter("type", FieldType::Text, "volume type")
        .rule(Rule::OneOf(&facts::VOLUME_TYPES, "volume type")),
    filter("bootable", FieldType::Bool, "bootable or not"),
    filter(
        "instance_id",
        FieldType::Id(Kind::Vm),
        "the instance it is attached to",
    ),
];
pub const SNAPSHOT_FILTER: &[Field] = &[
    filter("status", FieldType::Text, "snapshot state")
        .rule(Rule::OneOf(&facts::SNAPSHOT_STATES, "snapshot state"))
        .chosen(),
    REGION_FILTER,
    NAME_FILTER,
    filter(
        "instance_id",
        FieldType::Id(Kind::Vm),
        "the instance it was taken of",
    ),
];
pub const IMAGE_FILTER: &[Field] = &[
    filter("status", FieldType::Text, "image state")
        .rule(Rule::OneOf(&facts::IMAGE_STATES, "image state"))
        .chosen(),
    REGION_FILTER,
    NAME_FILTER,
    filter(
        "snapshot_id",
        FieldType::Id(Kind::Snapshot),
        "the snapshot it was made from",
    ),
];
pub const FIREWALL_FILTER: &[Field] = &[REGION_FILTER, NAME_FILTER];
pub const NAME_ONLY_FILTER: &[Field] = &[NAME_FILTER];
pub const STOCK_FILTER: &[Field] = &[REGION_FILTER, GPU_FILTER, TIER_FILTER];
pub const SPEC_FILTER: &[Field] = &[GPU_FILTER, TIER_FILTER];
pub const OS_IMAGE_FILTER: &[Field] = &[filter("id", FieldType::Text, "OS image id"), NAME_FILTER];
pub const AI_USAGE_FILTER: &[Field] = &[filter("model", FieldType::Text, "AI model id")];
/// A map argument that takes no keys at all (`pricing(#{})`).
pub const NO_KEYS: &[Field] = &[];

/// Query parameters of every paginated list, besides its filters.
pub const PAGING: &[Field] = &[
    field("page", FieldType::Int, "page number")
        .rule(Rule::Range(1, i64::MAX))
        .chosen(),
    field("per_page", FieldType::Int, "items per page (at most 100)")
        .rule(Rule::Range(1, i64::MAX))
        .chosen(),
];

/// The options map of the waiters (`wait_active(vm, #{timeout, interval})`): not sent anywhere,
/// but a map a user writes, checked like the others.
pub const WAITER: &[Field] = &[
    field(
        "timeout",
        FieldType::Text,
        "how long to wait, such as \"20m\"",
    )
    .default("\"20m\""),
    field(
        "interval",
        FieldType::Text,
        "how often to look, such as \"10s\"",
    )
    .default("\"15s\""),
];
